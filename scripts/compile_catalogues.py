"""Compile locale/*/LC_MESSAGES/*.po into .mo files in pure Python (polib).

`make` uses Django's compilemessages when GNU gettext is installed and this
script otherwise, so a laptop needs nothing but Python to get the Chinese UI.
"""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    compiled = 0
    for po_path in sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po")):
        catalogue = polib.pofile(str(po_path))
        catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
        compiled += 1
    print(f"compiled {compiled} catalogue(s)", file=sys.stderr)
    return 0 if compiled else 1


if __name__ == "__main__":
    sys.exit(main())
