"""The floor bench_send measures itself against: ready-made messages pushed raw to the same sink."""

from urllib.parse import urlsplit

import pytest

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


@pytest.mark.parametrize("pipelining", [False, True])
def test_the_floor_spreads_its_connections_over_processes_and_sends_each_message_intact(smtp_server, pipelining):
    """As a worker pool does: two OS processes, two connections each, the envelope pipelined when offered."""
    smtp_server.pipelining = pipelining
    body = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n.leading dot\r\n..two\r\nlast\r\n"
    sink = urlsplit(smtp_server.url)
    floor = smtp_floor(
        host=sink.hostname, port=sink.port, messages=[body], count=10, connections=4, sender="a@example.org", processes=2
    )
    assert smtp_server.count() == 10 and len(set(smtp_server.by_recipient())) == 10
    assert floor.connections == 4 and floor.per_second > 0
    for _rcpts, message, _raw in smtp_server.parsed():
        assert message.get_payload().replace("\r\n", "\n") == ".leading dot\n..two\nlast\n"


def test_the_floor_sends_each_next_envelope_behind_the_data_as_the_send_does():
    """One round trip a message under PIPELINING: the stub withholds its reply to the first message's
    data until the second message's MAIL FROM has arrived, which a floor that waited for it never sends."""
    from tests.helpers.smtp_stub import StubSMTP

    stub = StubSMTP(hold_until_next_mail={"floor0@example.org"})
    try:
        body = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: chained\r\n\r\nbody\r\n"
        floor = smtp_floor(host="127.0.0.1", port=stub.port, messages=[body], count=3, connections=1, sender="a@example.org")
    finally:
        stub.close()
    assert stub.misses == []
    assert stub.by_recipient() == {f"floor{n}@example.org": 1 for n in range(3)}
    assert floor.messages == 3


def test_the_provider_floor_replays_the_stubs_own_calls_over_the_asked_connections():
    """The calls a send made (kept by the Mailgun stub) are replayed raw, as often as asked."""
    import requests

    from digests.bench.floor import ApiCall, api_floor
    from digests.bench.provider_stub import MailgunStub

    stub = MailgunStub()
    try:
        for n in (3, 1):
            body = "&".join(f"to=r{i}%40example.org" for i in range(n)) + "&subject=s&text=t"
            answer = requests.post(
                f"{stub.url}/bench.example.org/messages",
                data=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                auth=("api", "key"),
                timeout=5,
            )
            assert answer.status_code == 200
        assert [recipients for *_, recipients in stub.samples] == [3, 1]
        calls = [ApiCall(*sample) for sample in stub.samples]
        url = urlsplit(stub.url)
        floor = api_floor(host=url.hostname, port=url.port, calls=calls, count=7, connections=2)
    finally:
        stub.close()
    assert stub.requests == 2 + 7 and stub.recipients == 4 + (3 + 1 + 3 + 1 + 3 + 1 + 3)
    assert floor.calls == 7 and floor.recipients == 15 and floor.connections == 2 and floor.per_second > 0
    assert "7 ready-made API calls" in str(floor) and "2 HTTP connection(s)" in str(floor)


def test_the_bench_says_who_used_the_cpu_per_message_even_processes_that_ended_meanwhile():
    """What bench_send prints next to a rate: the CPU behind each message, by process group."""
    import multiprocessing
    import subprocess
    import sys
    import time

    from digests.bench.probes import CpuShare

    burn = "import time\nend = time.process_time() + {}\nwhile time.process_time() < end: pass\n"
    worker = subprocess.Popen([sys.executable, "-c", burn.format(0.4) + "time.sleep(30)"], start_new_session=True)
    try:
        share = CpuShare("a phase", worker_sessions={worker.pid: "worker"}).start()
        child = multiprocessing.get_context("fork").Process(target=exec, args=(burn.format(0.3),))
        child.start()
        child.join()  # ended before the phase did, as the floor's processes do
        time.sleep(0.8)
        share.sample()
    finally:
        worker.kill()
        worker.wait()
    share.stop().messages = 1000

    assert share.used["floor processes"] >= 0.25
    assert share.used["worker"] >= 0.2  # counted up to its last sample, though it is gone at the stop
    line = str(share)
    assert line.startswith("CPU per message, a phase (us): ") and "floor processes " in line and "worker " in line
    assert "cores busy" in line


def test_each_worker_of_a_send_is_counted_apart_as_if_on_a_machine_of_its_own():
    """bench_send --workers N: every `celery worker` command is a session of its own, and the CPU
    behind each message is shown per worker, so a reader sees that each of them took part."""
    import subprocess
    import sys

    from digests.bench.probes import CpuShare

    burn = "import time\nend = time.process_time() + {}\nwhile time.process_time() < end: pass\nprint(flush=True)\ntime.sleep(30)"
    first = subprocess.Popen([sys.executable, "-c", burn.format(0.3)], start_new_session=True, stdout=subprocess.PIPE)
    second = subprocess.Popen([sys.executable, "-c", burn.format(0.15)], start_new_session=True, stdout=subprocess.PIPE)
    try:
        share = CpuShare("a phase", worker_sessions={first.pid: "worker 1", second.pid: "worker 2"}).start()
        first.stdout.readline(), second.stdout.readline()  # each has burnt its share
        share.stop().messages = 1000
    finally:
        for worker in (first, second):
            worker.kill()
            worker.wait()

    assert share.used["worker 1"] >= 0.2 and 0.08 <= share.used["worker 2"] < share.used["worker 1"]
    assert "worker" not in share.used
    assert "worker 1 " in str(share) and "worker 2 " in str(share)


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--workers", "0"], "--workers"), (["--concurrency", "0"], "--concurrency"), (["--rate", "0"], "--rate")],
)
def test_bench_send_refuses_a_send_with_no_worker_or_a_rate_of_nothing(option, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=message):
        call_command("bench_send", "--to", "smtp://127.0.0.1:1", "--readers", "10", *option)


def test_a_send_is_compared_with_the_mean_of_the_floors_measured_before_and_after_it():
    """A machine that slowed down during the run shows as two floors apart, not as a slow send."""
    from digests.bench.floor import Bracket, Floor

    before = Floor(messages=20_000, connections=8, seconds=2.0, average_bytes=23_000, when="before the send")
    after = Floor(messages=20_000, connections=8, seconds=2.5, average_bytes=23_000, when="after the send")
    bracket = Bracket(before, after)

    assert bracket.per_second == 9_000  # (10,000 + 8,000) / 2
    assert round(bracket.spread, 3) == 0.222
    assert bracket.ratio(7_200) == (
        "ratio of the sending phase to the floor: 0.80 (to the floor before it and after it: before 0.72, after 0.90; the two 22% apart)"
    )
    assert str(before).startswith("floor before the send: 20000 ready-made messages") and str(before).endswith("10000 messages/s")
    nothing = Floor(messages=0, connections=8, seconds=0.0, average_bytes=0)
    assert Bracket(nothing, nothing).ratio(7_200).endswith("none (the floor sent nothing)")


def test_the_send_is_told_what_its_cpu_a_message_allows_against_the_floor(monkeypatch):
    """Below target with idle cores a send waits; with a ceiling below target it needs less CPU a
    message. bench_send prints which, from the CPU it measured and the floor's mean."""
    from digests.bench.probes import CpuShare

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    share = CpuShare("sending phase", used={"worker": 1.2, "smtp-sink": 0.8}, messages=10_000)  # 200 us a message

    assert share.ceiling(8_000, 0.85) == (
        "CPU ceiling of the sending phase: 2 cores fully busy at 200 us a message send 10000 emails/s, "
        "1.25 of the floor; 0.85 of the floor needs at most 294 us a message in all"
    )
    assert share.ceiling(12_500, 0.85).endswith("0.80 of the floor; 0.85 of the floor needs at most 188 us a message in all")
    assert CpuShare("sending phase").ceiling(8_000, 0.85) == ""  # nothing measured (not Linux)
    assert share.ceiling(0, 0.85) == ""  # the floor sent nothing
