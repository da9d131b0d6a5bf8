#!/usr/bin/env python3
"""Publish a digest file over the newsletter's REST API: an example client with nothing but the standard library.

    python3 scripts/publish_digest.py --url https://news.example.com --key dgk_… ai-digest-2026-02-06.md [--schedule] [--replace]

Posts the file as ``text/markdown`` with an Idempotency-Key (the file's
SHA-256), so running it twice publishes once; prints the pre-send checks;
with ``--schedule`` asks for the default send time unless the autopilot
already scheduled it. Exits 0 on success, 1 when the server refuses.
The key may also come from the NEWSLETTER_API_KEY environment variable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path


def call(base: str, key: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, parsed JSON body) of one request to the API."""
    request = urllib.request.Request(
        f"{base.rstrip('/')}/api/v1/{path}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"detail": raw.decode("utf-8", "replace")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", required=True, help="The site, e.g. https://news.example.com")
    parser.add_argument("--key", default=os.environ.get("NEWSLETTER_API_KEY", ""))
    parser.add_argument("--replace", action="store_true", help="Replace a draft of the same date.")
    parser.add_argument("--schedule", action="store_true", help="Schedule it for the default send time.")
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("give --key or set NEWSLETTER_API_KEY")
    data = args.file.read_bytes()
    headers = {"Content-Type": "text/markdown; charset=utf-8", "Idempotency-Key": hashlib.sha256(data).hexdigest()}
    status, digest = call(args.url, args.key, "POST", "digests/" + ("?replace=true" if args.replace else ""), data, headers)
    if status != 201:
        print(f"{args.file}: not published ({status}): {digest.get('detail', '')}", file=sys.stderr)
        for error in digest.get("errors", []):
            print(f"{args.file}:{error.get('line', error.get('field', ''))}: {error['message']}", file=sys.stderr)
        return 1
    print(f"published {digest['issue_date']} “{digest['title']}”: {digest['status']}, autopilot {digest['autopilot'] or 'off'}")
    for check in digest.get("checks", []):
        print(f"  {check['level']}: {check['message']}")
    if args.schedule and digest["status"] == "draft":
        status, digest = call(
            args.url, args.key, "POST", f"digests/{digest['issue_date']}/schedule", b"{}", {"Content-Type": "application/json"}
        )
        if status != 200:
            print(f"not scheduled ({status}): {digest.get('detail', '')}", file=sys.stderr)
            return 1
        print(f"scheduled for {digest['scheduled_at']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
