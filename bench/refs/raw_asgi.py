"""Reference server: a raw ASGI callable that only decodes the body with msgspec.

It reads the whole body, decodes it into Python objects with `msgspec.json.decode`, and
answers 200 with a `results[]` list shaped like shopevents' answer, so the load generator
does the same work on both. Nothing is stored: this is the ceiling of the server software
(uvicorn + uvloop + httptools, 1 worker) for the same requests.

Run: uvicorn --loop uvloop --http httptools --no-access-log bench.refs.raw_asgi:app
"""

from __future__ import annotations

import msgspec

_decode = msgspec.json.decode
_encode = msgspec.json.encode
_HEADERS = [(b"content-type", b"application/json")]
_BAD = b'{"status":"error","code":"bad_json","message":"body is not JSON","errors":[]}'


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":
        await _reply(send, 200, b'{"status":"ok"}')
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        envelope = _decode(body)
    except msgspec.DecodeError:
        await _reply(send, 400, _BAD)
        return
    events = envelope.get("events") or [] if isinstance(envelope, dict) else []
    results = [
        {
            "index": i,
            "type": e.get("type") if isinstance(e, dict) else None,
            "status": "accepted",
            "warnings": [],
        }
        for i, e in enumerate(events)
    ]
    answer = {
        "trackerId": "000000000000000000000000",
        "banners": [],
        "webContents": [],
        "webModals": {},
        "results": results,
    }
    await _reply(send, 200, _encode(answer))


async def _reply(send, status: int, body: bytes) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
