"""Outgoing webhooks: endpoints, the outbox dispatcher, signing, retries with backoff, the
private-address guard, the delivery worker, the REST API and the CLI.

The path of a fact: the transaction that produces it writes an outbox row
(`shopevents.domain.outbox.emit`); the dispatcher fans each row out into one delivery per
subscribed endpoint (stable delivery id, frozen body) and marks the row dispatched, in one
transaction; the worker claims a due delivery with a compare-and-set, commits, sends it
outside any transaction, then records the result in another transaction. A crash between
sending and recording resends the same delivery (same id) once the claim's lease runs out:
delivery is at least once, never lost.
"""

from shopevents.domain.outbox import TOPICS

__all__ = ["TOPICS"]
