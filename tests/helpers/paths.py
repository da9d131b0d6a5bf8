"""Where things are: the repository root, for tests that run ``manage.py`` or read files next to the code."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
