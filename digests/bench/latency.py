"""A network's round trip between the sender and the sink, for ``bench_send --rtt-ms``.

On one machine a sink answers in microseconds; a real relay or provider is a
network away, and there what a send costs per message is round trips, not CPU.
This TCP proxy holds everything it relays for half the round trip in each
direction, in order, and is otherwise a plain pipe. It runs as its own process
(``python -m digests.bench.latency``), so its CPU shows apart in bench_send's
accounting and does not share the bench's interpreter.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def deliver() -> None:
        while (item := await queue.get()) is not None:
            due, data = item
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()
        writer.close()

    delivering = loop.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait(None)
    await delivering


async def _serve(target_host: str, target_port: int, delay: float) -> None:
    async def relay(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, server_writer, delay), _pipe(server_reader, client_writer, delay), return_exceptions=True
        )

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    sys.stdout.write(f"{server.sockets[0].getsockname()[1]}\n")  # the parent reads where to connect
    sys.stdout.flush()
    await server.serve_forever()


@dataclass
class LatencyProxy:
    """A proxy process in front of host:port adding ``rtt_ms`` to every round trip; ``port`` is where it listens."""

    process: subprocess.Popen
    port: int

    @classmethod
    def start(cls, host: str, port: int, rtt_ms: float) -> LatencyProxy:
        process = subprocess.Popen(
            [sys.executable, "-m", "digests.bench.latency", host, str(port), str(rtt_ms)],
            stdout=subprocess.PIPE,
            text=True,
        )
        listening = process.stdout.readline().strip()
        if not listening.isdigit():
            process.kill()
            raise RuntimeError(f"the latency proxy did not start (it said {listening!r})")
        return cls(process, int(listening))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


if __name__ == "__main__":
    host, port, rtt_ms = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    asyncio.run(_serve(host, port, rtt_ms / 2000))
