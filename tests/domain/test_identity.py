"""The identity rules on plain values: what a request's tracker and e-mail do to contacts."""

from __future__ import annotations

from shopevents.domain.identity import next_step


def test_without_an_email_a_known_tracker_keeps_its_contact_and_an_unknown_one_gets_a_new_one() -> (
    None
):
    assert next_step(("c1", None), None, None) == "known"
    assert next_step(("c1", "a@x.org"), None, None) == "known"
    assert next_step(None, None, None) == "new-anonymous"


def test_an_email_another_contact_has() -> None:
    assert next_step(None, "c2", "b@x.org") == "owner"
    assert next_step(("c2", "b@x.org"), "c2", "b@x.org") == "same"
    # An anonymous contact that logs in as a known e-mail is merged into its contact.
    assert next_step(("c1", None), "c2", "b@x.org") == "merge"
    # A shared device: the tracker now points to the e-mail's contact, nothing is merged.
    assert next_step(("c1", "a@x.org"), "c2", "b@x.org") == "owner-repoint"


def test_an_email_no_contact_has() -> None:
    assert next_step(("c1", None), None, "a@x.org") == "identify"
    assert next_step(("c1", "other@x.org"), None, "a@x.org") == "new-identified"
    assert next_step(None, None, "a@x.org") == "new-identified"
