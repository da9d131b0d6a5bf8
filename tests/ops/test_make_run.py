"""``make run`` on a laptop: the port it is given, one quiet Ctrl-C, one clock, every line once."""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from tests.helpers.paths import ROOT
from tests.helpers.services import free_port, wait_for

# What a terminal's Ctrl-C must never bring (the first two were every shutdown's; the third every start's).
BAD_LINES = ("exited with", "SIGKILL", "No hostname was supplied", " ERROR ", "Traceback")
HONCHO_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d) (\S+)\s*\| ?(.*)$")
APP_LINE = re.compile(r"^\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d),\d+ [A-Z]+ \S+ (.*)$")


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except urllib.error.HTTPError:
        return True  # any HTTP answer: the server is up on that port
    except OSError:
        return False
    return True


def test_make_run_serves_on_port_and_one_ctrl_c_stops_everything_warm_and_quietly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EMAIL_URL", "TZ")}
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port), ADMIN_PASSWORD="make-run-test-password")
    # Like a terminal: make and everything it starts in one process group, the target of Ctrl-C.
    run = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in run.stdout), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: _answers(port), timeout=120, interval=0.5), "\n".join(lines)
        assert wait_for(lambda: any(" ready." in line for line in lines), timeout=60), "\n".join(lines)
        os.killpg(run.pid, signal.SIGINT)
        stopped_at = time.monotonic()
        run.wait(timeout=40)
        took = time.monotonic() - stopped_at
    finally:
        if run.poll() is None:
            # honcho's processes sit in sessions of their own: only its Ctrl-C handling stops them.
            os.killpg(run.pid, signal.SIGINT)
            try:
                run.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait(10)
    reader.join(10)
    output = "\n".join(lines)

    assert took < 30, output
    assert [line for line in lines if any(bad in line for bad in BAD_LINES)] == [], output
    assert "Warm shutdown" in output and "worker.1 stopped" in output, output
    assert f"Starting development server at http://127.0.0.1:{port}/" in output

    bodies: dict[str, set[str]] = {}
    for line in lines:
        if match := HONCHO_LINE.match(line):
            bodies.setdefault(match[4], set()).add(match[5].strip())
    for line in lines:
        honcho = HONCHO_LINE.match(line)
        app = honcho and APP_LINE.match(honcho[5])
        if not app:
            continue
        # The same message bare and formatted is a line printed twice.
        assert app[4].strip() not in bodies[honcho[4]], f"printed twice: {app[4]}"
        # honcho's clock and the app's: the same time zone, so the same time to within a minute.
        honcho_seconds = int(honcho[1]) * 3600 + int(honcho[2]) * 60 + int(honcho[3])
        app_seconds = int(app[1]) * 3600 + int(app[2]) * 60 + int(app[3])
        assert min(abs(honcho_seconds - app_seconds), 86400 - abs(honcho_seconds - app_seconds)) < 60, line
    assert any(HONCHO_LINE.match(line) and APP_LINE.match(HONCHO_LINE.match(line)[5]) for line in lines)
