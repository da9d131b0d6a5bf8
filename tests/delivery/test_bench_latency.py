"""bench_send --rtt-ms: a proxy that puts a network's round trip between the sender and the sink."""

import socket
import threading
import time

import pytest

from digests.bench.latency import LatencyProxy


@pytest.fixture
def echo_server():
    """A server that answers every chunk with the same bytes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def _round_trip(port: int, payload: bytes) -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        started = time.monotonic()
        conn.sendall(payload)
        received = b""
        while len(received) < len(payload):
            received += conn.recv(65536)
        return received, time.monotonic() - started


def test_everything_relayed_arrives_intact_in_order_and_each_round_trip_takes_at_least_the_rtt(echo_server):
    proxy = LatencyProxy.start("127.0.0.1", echo_server, rtt_ms=40)
    try:
        payload = b"".join(b"%06d," % n for n in range(50_000))  # 350 KB: many chunks each way
        received, seconds = _round_trip(proxy.port, payload)
    finally:
        proxy.stop()

    assert received == payload
    assert seconds >= 0.040


def test_bench_send_refuses_a_round_trip_without_an_smtp_sink():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--rtt-ms"):
        call_command("bench_send", "--to", "anymail://mailgun", "--rtt-ms", "5")
