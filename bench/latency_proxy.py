"""A TCP proxy on 127.0.0.1 that holds every chunk of bytes for half the round trip in each
direction, in order, so a loopback server answers like one across a network: a request and its
answer cost at least `--latency-ms`, while requests on different connections overlap.

Opening a connection costs no round trip here, and there is no TLS: a server that closes every
connection after its answer (moto does) looks like one whose client keeps connections alive.

    python latency_proxy.py --port P --upstream Q --latency-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """One direction: each chunk leaves `delay` seconds after it came; the end of the stream
    is passed on after the last chunk (a half-close, the other direction goes on)."""
    # Chunks are queued with the time they may leave, so a burst is delayed once, not per chunk.
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(1 << 16):
            queue.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((0.0, b""))
    await sender


async def _serve(port: int, upstream: int, latency_ms: float) -> None:
    delay = latency_ms / 2000

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_writer = None
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
            await asyncio.gather(
                _pump(reader, up_writer, delay), _pump(up_reader, writer, delay),
                return_exceptions=True,
            )  # fmt: skip
        finally:
            for end in (writer, up_writer):
                if end is not None:
                    end.close()
                    with contextlib.suppress(ConnectionError):
                        await end.wait_closed()

    server = await asyncio.start_server(connect, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, required=True)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.upstream, args.latency_ms))


if __name__ == "__main__":
    main()
