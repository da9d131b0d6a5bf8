"""Log lines: one JSON object per line in production, readable text in development, never an address."""

import io
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

from newsletter.logs import JsonLineFormatter, TextFormatter, address_redact, log_fields, logger_with_fields
from tests.helpers.paths import ROOT

READER = "zhang.wei+news@例子.公司"


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test.sending.{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_sending_line_is_one_json_object_with_the_ids_as_fields():
    logger, stream = capture(JsonLineFormatter())
    batch_logger = logger_with_fields(logger, digest_id=42, batch="b-7f3a")

    batch_logger.info("delivery sent", extra=log_fields(subscriber_id=1001))
    batch_logger.warning("batch finished: %d sent", 200)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "delivery sent"
    assert (first["digest_id"], first["batch"], first["subscriber_id"]) == (42, "b-7f3a", 1001)
    assert first["level"] == "INFO" and first["logger"].startswith("test.sending") and "time" in first
    assert second["message"] == "batch finished: 200 sent" and "subscriber_id" not in second


def test_an_address_never_reaches_a_json_line_even_by_mistake():
    logger, stream = capture(JsonLineFormatter())

    logger.info("refused %s", READER, extra={"digest_id": 1, "recipient": f"Wei <{READER}>"})
    try:
        raise RuntimeError(f"SMTP 550 mailbox unavailable: {READER}")
    except RuntimeError:
        logger.exception("send failed", extra=log_fields(digest_id=1, subscriber_id=9))

    output = stream.getvalue()
    assert READER not in output and "zhang.wei" not in output
    records = [json.loads(line) for line in output.splitlines()]
    assert records[0]["message"] == "refused [address]"
    assert records[0]["recipient"] == "Wei <[address]>"
    assert "mailbox unavailable: [address]" in records[1]["exc_info"]


def test_chinese_text_stays_readable_in_json_lines():
    logger, stream = capture(JsonLineFormatter())

    logger.info("开始发送 AI 行业动态")

    assert "开始发送 AI 行业动态" in stream.getvalue()


def test_development_lines_are_readable_text_with_the_ids_appended():
    logger, stream = capture(TextFormatter())

    logger.info("delivery sent to %s", READER, extra=log_fields(digest_id=42, batch="b-7f3a", subscriber_id=1001))

    line = stream.getvalue().strip()
    assert line.endswith("INFO " + logger.name + " delivery sent to [address] digest_id=42 batch=b-7f3a subscriber_id=1001")
    assert READER not in line


@pytest.mark.parametrize(
    "text",
    ["a@b.co", "First.Last+tag@sub.example.com", "<x_y@example.org>", "读者@例子.中国", "mailto:reader@example.net"],
)
def test_anything_shaped_like_an_address_is_redacted(text):
    assert "@" not in address_redact(f"to {text}, ok")


def test_log_fields_leaves_out_what_it_was_not_given():
    assert log_fields(digest_id=3) == {"digest_id": 3}
    assert log_fields(digest_id=3, batch="b", subscriber_id=5, provider="smtp") == {
        "digest_id": 3,
        "batch": "b",
        "subscriber_id": 5,
        "provider": "smtp",
    }


def run_django(code: str | None, tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {**{k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}, "VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code] if code else [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


LOG_A_SEND = (
    "import logging; from newsletter.logs import log_fields;"
    "logging.getLogger('digests.delivery').info('sent to reader@example.com', extra=log_fields(digest_id=5, subscriber_id=8))"
)


def test_production_settings_log_json_by_default(tmp_path):
    result = run_django(LOG_A_SEND, tmp_path, DEBUG="false")

    assert result.returncode == 0, result.stderr
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record == {**record, "message": "sent to [address]", "digest_id": 5, "subscriber_id": 8, "logger": "digests.delivery"}


def test_debug_settings_log_readable_text_by_default(tmp_path):
    result = run_django(LOG_A_SEND, tmp_path, DEBUG="true")

    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.endswith("INFO digests.delivery sent to [address] digest_id=5 subscriber_id=8")


def test_an_unknown_log_format_stops_start_up_naming_the_variable(tmp_path):
    result = run_django(None, tmp_path, LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT='xml' is invalid" in result.stderr


def test_a_celery_worker_logs_json_lines_too(tmp_path):
    """Celery must not swap in its own log format: the worker's lines are JSON like web's."""
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DEBUG": "false", "LOG_FORMAT": "json", "CELERY_BROKER_URL": "filesystem://"}
    command = [sys.executable, "-m", "celery", "--app=newsletter", "worker", "--loglevel=INFO", "--pool=solo"]
    command += ["--queues=housekeeping", "--without-heartbeat", "--without-mingle", "--without-gossip"]
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in worker.stderr], daemon=True).start()
    records = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("ready" in r.get("message", "") for r in records):
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith("{"):
                records.append(json.loads(line))
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert any(r["logger"].startswith("celery") and r["message"].endswith("ready.") for r in records), records
