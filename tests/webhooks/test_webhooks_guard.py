"""The address guard, signatures and Retry-After parsing (no database, no network: hosts
are resolved by a stand-in resolver)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from shopevents import ids
from shopevents.webhooks import backoff, guard, signing


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "ff02::1",
        "not-an-ip",
    ],
)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert guard.is_blocked(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not guard.is_blocked(address)


def resolver_for(answers: dict[str, list[str]]) -> guard.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host}: name not known")
        return answers[host]

    return resolve


def target(url: str, answers: dict[str, list[str]], allow: bool = False) -> guard.Target:
    return asyncio.run(
        guard.resolve_target(url, allow_private=allow, resolver=resolver_for(answers))
    )


def test_every_resolved_address_is_checked() -> None:
    with pytest.raises(guard.BlockedAddress, match=r"10\.0\.0\.7"):
        target("https://mixed.example/x", {"mixed.example": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(guard.BlockedAddress):
        target("http://rebind.example/x", {"rebind.example": ["::ffff:169.254.169.254"]})


def test_the_checked_address_is_the_one_connected_to() -> None:
    t = target(
        "https://hooks.example:8443/in?x=1",
        {"hooks.example": ["2606:4700:4700::1111", "93.184.216.34"]},
    )
    assert t.url == "https://93.184.216.34:8443/in?x=1"
    assert t.host_header == "hooks.example:8443"
    assert t.sni == "hooks.example"
    plain = target("http://hooks.example/", {"hooks.example": ["2606:4700:4700::1111"]})
    assert plain.url == "http://[2606:4700:4700::1111]/"
    assert plain.host_header == "hooks.example" and plain.sni is None


def test_literals_and_allowed_private() -> None:
    with pytest.raises(guard.BlockedAddress):
        target("http://127.0.0.1:8080/x", {})
    with pytest.raises(guard.BlockedAddress):
        target("http://[::1]/x", {})
    assert target("http://93.184.216.34/x", {}).url == "http://93.184.216.34/x"
    allowed = target("http://localhost:9/x", {}, allow=True)
    assert allowed.url == "http://localhost:9/x" and allowed.host_header is None


def test_resolution_failure_is_an_os_error() -> None:
    with pytest.raises(OSError):
        target("https://nowhere.example/x", {})
    with pytest.raises(OSError):
        target("https://empty.example/x", {"empty.example": []})


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "example.com/x",
        "https://",
        "http://exa mple.com/",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "https://example.com/" + "a" * 2100,
        "",
    ],
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(guard.InvalidURL):
        guard.check_url(url)


def test_obviously_private_at_registration() -> None:
    assert guard.obviously_private("http://localhost:8000/x")
    assert guard.obviously_private("http://api.localhost/x")
    assert guard.obviously_private("http://192.168.0.10/x")
    assert not guard.obviously_private("https://hooks.example.com/x")
    assert not guard.obviously_private("https://93.184.216.34/x")


def test_signature_format_and_rotation() -> None:
    body = b'{"id":"whd_1"}'
    header = signing.sign("whsec_a", 1_700_000_000, body)
    t, sigs = signing.parse(header)
    assert t == 1_700_000_000 and len(sigs) == 1 and len(sigs[0]) == 64
    assert signing.verify("whsec_a", header, body, 1_700_000_000 + 300)
    assert not signing.verify("whsec_a", header, body, 1_700_000_000 + 301)
    two = header + ",v1=" + signing.signature("whsec_b", 1_700_000_000, body)
    assert signing.verify("whsec_b", two, body, 1_700_000_000)
    assert not signing.verify("whsec_a", "v1=abc", body, 0)
    assert ids.webhook_secret() != ids.webhook_secret()


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert backoff.parse_retry_after("120", now) == 120
    assert backoff.parse_retry_after("0", now) == 1
    assert backoff.parse_retry_after("999999", now) == 86400
    assert backoff.parse_retry_after("Thu, 01 Jan 2026 00:10:00 GMT", now) == 600
    assert backoff.parse_retry_after("soon", now) is None
    assert backoff.parse_retry_after(None, now) is None
