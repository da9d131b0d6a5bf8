"""scripts/publish_digest.py: the example client, standard library only, against a live server."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from digests.models import Digest
from tests.helpers.digest_files import BAD_FILES, VALID_FILE
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = ROOT / "scripts" / "publish_digest.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_it_needs_nothing_but_the_standard_library():
    tree = ast.parse(SCRIPT.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}


def test_it_publishes_and_schedules_a_file_once_however_often_it_runs(live_server, make_key, tmp_path):
    key = make_key("digests:write", "sends:write")
    path = tmp_path / "digest.md"
    path.write_bytes(VALID_FILE)

    first = _run("--url", live_server.url, "--key", key, str(path), "--schedule")
    again = _run("--url", live_server.url, "--key", key, str(path), "--schedule")

    assert first.returncode == 0, first.stderr
    assert "published 2026-03-01" in first.stdout and "scheduled for" in first.stdout
    assert again.returncode == 0, again.stderr  # the Idempotency-Key replays the first answer
    assert Digest.objects.get().status == "scheduled"


def test_it_reports_the_servers_line_numbered_errors(live_server, make_key, tmp_path):
    data, line = BAD_FILES["missing 说明"]
    path = tmp_path / "bad.md"
    path.write_bytes(data)

    result = _run("--url", live_server.url, "--key", make_key("digests:write"), str(path))

    assert result.returncode == 1
    assert f"{path}:{line}:" in result.stderr
    assert not Digest.objects.exists()
