"""The floor bench_send measures itself against: ready-made messages pushed raw to the same sink."""

from urllib.parse import urlsplit

from digests.bench.floor import smtp_floor


def test_the_floor_pushes_every_message_over_the_asked_connections(smtp_server):
    messages = [
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: one\r\n\r\nfirst body\r\n",
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: two\r\n\r\n" + (b"x" * 70 + b"\r\n") * 30,
    ]
    sink = urlsplit(smtp_server.url)
    floor = smtp_floor(host=sink.hostname, port=sink.port, messages=messages, count=41, connections=3, sender="a@example.org")
    assert smtp_server.count() == 41
    assert len(set(smtp_server.by_recipient())) == 41  # each message to its own address
    assert floor.connections == 3 and floor.messages == 41 and floor.per_second > 0
    assert "41 ready-made messages" in str(floor) and "3 SMTP connection(s)" in str(floor)
