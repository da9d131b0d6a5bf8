"""Run the npm checkers (doiuse-email) the repository pins in package-lock.json."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.helpers.paths import ROOT

NODE_MODULES = ROOT / "node_modules"


def node_modules_path(package: str):
    """The installed npm package's folder; fails (never skips) when `npm ci` has not been run."""
    folder = NODE_MODULES / package
    if not folder.exists():
        pytest.fail(f"{package} is not installed: run `npm ci` at the repository root (make test does)")
    return folder


def node_json(script: str, payload: dict) -> dict:
    """Run ``script`` (CommonJS) with ``payload`` as JSON on stdin; return what it prints as JSON."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (Node.js 20 or newer)")
    result = subprocess.run(
        [node, "-e", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    return json.loads(result.stdout)
