"""HTTP requests written byte by byte, for what aiohttp's client refuses to send: header values
that are not UTF-8 (the server decodes them with surrogateescape), bodies whose Content-Length
and Content-Type say whatever the test wants."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import urlsplit

Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


async def raw_request(url: str, path: str | bytes, *, method: str = "POST", headers: Headers = (),
                      body: bytes = b"", timeout_s: float = 10.0) -> Answer:
    """Send one request exactly as given (plus Host, Content-Length and Connection: close); the
    path may be bytes that are not UTF-8."""
    where = urlsplit(url)
    target = path if isinstance(path, bytes) else path.encode()
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        head = [method.encode() + b" " + target + b" HTTP/1.1", f"Host: {where.netloc}".encode(),
                f"Content-Length: {len(body)}".encode(), b"Connection: close"]
        head += [name + b": " + value for name, value in headers]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        try:
            await writer.drain()
        except ConnectionError:
            pass  # the server answered early (a 413) and closed: its answer is in the buffer
        answer = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return Answer(status=int(status_line.split()[1]), body=payload)
