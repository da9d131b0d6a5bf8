#!/usr/bin/env python3
"""Take the README's screenshots with headless Chromium: the admin digest list and page, and the email.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium] [--only weekly-edition ...]

It builds a throw-away site (SQLite and a file broker in a temporary folder), loads
the demo digest, starts Django's development server on a free port, logs into the
admin and saves PNGs. The email is the seed digest rendered by ``manage.py
render_digest`` (the same renderer the sender uses); where that command is not
installed, the admin's preview page is used if it exists, else the email is skipped
with a message.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_USER = "admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_environment(var_dir: Path, password: str, port: int) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "newsletter.settings",
            "VAR_DIR": str(var_dir),
            "DEBUG": "true",  # the development server then serves the admin's CSS
            "SITE_URL": f"http://127.0.0.1:{port}",
            "ADMIN_PASSWORD": password,
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the development server exited: {server.stderr.read() if server.stderr else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the development server did not answer at {url} within {seconds:.0f} s")


def site_facts(env: dict[str, str]) -> dict[str, str]:
    """The seed digest's id and date, and which email renderer this checkout has."""
    code = (
        "from django.core.management import get_commands; from django.urls import NoReverseMatch, reverse;"
        "from digests.models import Digest; d = Digest.objects.order_by('-issue_date').first();"
        "print('FACT', d.pk); print('FACT', d.issue_date.isoformat());"
        "print('FACT', 'render_digest' in get_commands());\n"
        "try: print('FACT', reverse('admin:digests_digest_preview', args=[d.pk]))\n"
        "except NoReverseMatch: print('FACT', '')"
    )
    result = manage(env, "shell", "-c", code)
    if result.returncode:
        raise SystemExit(f"could not read the demo site: {result.stderr}")
    facts = [line.removeprefix("FACT").strip() for line in result.stdout.splitlines() if line.startswith("FACT")]
    pk, issue_date, has_command, preview = facts
    return {"pk": pk, "date": issue_date, "render_digest": has_command == "True", "preview": preview}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--only", nargs="*", default=[], help="File names (without .png) to take; all when omitted.")
    options = parser.parse_args()
    ONLY.update(options.only)
    options.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        var_dir, port, password = Path(tmp), free_port(), secrets.token_urlsafe(16)
        env = site_environment(var_dir, password, port)
        for step in (("migrate", "--noinput"), ("bootstrap",)):
            result = manage(env, *step)
            if result.returncode:
                raise SystemExit(f"manage.py {' '.join(step)} failed:\n{result.stderr}")
        facts = site_facts(env)

        email_html = None
        emails: dict[str, Path] = {}
        if facts["render_digest"]:
            for language in ("zh-hans", "en"):
                emails[language] = var_dir / f"email-{language}.html"
                result = manage(env, "render_digest", facts["date"], "--language", language, "--output", str(emails[language]))
                if result.returncode:
                    raise SystemExit(f"manage.py render_digest failed:\n{result.stderr}")
            email_html = emails["zh-hans"]
        welcome_html = welcome_email(env, var_dir)
        weekly_html = weekly_email(env, var_dir)

        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        saved = []
        try:
            wait_until_up(f"{base}/admin/login/", server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=options.chromium, args=CHROMIUM_ARGS)
                # The admin follows the staff user's language: show the Chinese one.
                admin = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai")
                admin.goto(f"{base}/admin/login/")
                admin.fill("#id_username", ADMIN_USER)
                admin.fill("#id_password", password)
                admin.click("input[type=submit]")
                admin.wait_for_url(f"{base}/admin/")

                admin.goto(f"{base}/admin/digests/digest/")
                saved.append(shot(admin, options.out / "admin-digest-list.png"))
                admin.goto(f"{base}/admin/digests/digest/{facts['pk']}/change/")
                saved.append(shot(admin, options.out / "admin-digest-change.png"))
                admin.goto(f"{base}/admin/digests/digest/{facts['pk']}/sending/")
                saved.append(shot(admin, options.out / "admin-digest-sending.png"))
                if facts["preview"]:
                    admin.goto(base + facts["preview"])
                    saved.append(shot(admin, options.out / "admin-digest-preview.png"))

                email = browser.new_page(viewport={"width": 680, "height": 1400})
                if email_html:
                    email.goto(email_html.as_uri())
                    saved.append(shot(email, options.out / "email.png"))
                    # The design at a desktop's and a phone's width, light and dark, Chinese and English labels.
                    for language, path in emails.items():
                        for width in (600, 375):
                            for scheme in ("light", "dark"):
                                page = browser.new_page(viewport={"width": width, "height": 1300}, color_scheme=scheme)
                                page.goto(path.as_uri())
                                saved.append(shot(page, options.out / f"email-{language}-{width}-{scheme}.png"))
                                page.close()
                if weekly_html:
                    page = browser.new_page(viewport={"width": 680, "height": 1400})
                    page.goto(weekly_html.as_uri())
                    saved.append(shot(page, options.out / "weekly-edition.png"))
                    page.close()
                if welcome_html:
                    page = browser.new_page(viewport={"width": 600, "height": 1100})
                    page.goto(welcome_html.as_uri())
                    saved.append(shot(page, options.out / "welcome.png"))
                    page.close()
                elif facts["preview"]:
                    admin.goto(base + facts["preview"])
                    saved.append(shot(admin, options.out / "email.png"))
                else:
                    print("email.png skipped: this checkout has neither `manage.py render_digest` nor an admin preview page")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    for path in filter(None, saved):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size // 1024} KB)")
    return 0


WELCOME_SCRIPT = """
from pathlib import Path
from digests.content.services import digest_transition
from digests.models import Category, Digest, Subscriber
from digests.readers.welcome import welcome_message
digest = Digest.objects.order_by("-issue_date").first()
for status in ("sending", "sent"):
    if digest.can_move_to(status):
        digest_transition(digest, to=status)
reader, _ = Subscriber.objects.get_or_create(
    email="reader@example.com", defaults={"status": "active", "name": "李雷", "language": "zh-hans", "timezone": "Asia/Shanghai"}
)
reader.categories.set(Category.objects.filter(name__in=["政策与监管", "投融资与并购"]))
Path(OUT).write_text(welcome_message(reader).alternatives[0].content, encoding="utf-8")
"""


def welcome_email(env: dict[str, str], var_dir: Path) -> Path | None:
    """The welcome email a new reader of two categories gets (the throw-away site's digest marked sent)."""
    if not (ROOT / "digests" / "readers" / "welcome.py").exists():
        return None
    out = var_dir / "welcome.html"
    result = manage(env, "shell", "-c", f"OUT = {str(out)!r}\n" + WELCOME_SCRIPT)
    if result.returncode:
        raise SystemExit(f"rendering the welcome email failed:\n{result.stderr}")
    return out


WEEKLY_SCRIPT = """
import datetime
from pathlib import Path
from digests.content.services import digest_duplicate, digest_transition
from digests.content.weekly import weekly_build
from digests.models import Digest
from digests.rendering.render import variant_render
seed = Digest.objects.filter(edition="daily").order_by("issue_date").first()
for status in ("sending", "sent"):
    if seed.can_move_to(status):
        digest_transition(seed, to=status)
# A second daily of the same week, with two stories of its own and one highlight.
next_day = Digest.objects.filter(edition="daily", issue_date=seed.issue_date + datetime.timedelta(days=1)).first()
if next_day is None:
    next_day = digest_duplicate(digest=seed, with_items=True)
    items = list(next_day.items.order_by("category__position", "position"))
    items[0].title, items[0].source_url = "国务院印发《关于深入实施“人工智能+”行动的意见》", "https://www.gov.cn/zhengce/ai-plus.html"
    items[0].summary = "国务院印发意见，提出推动人工智能与经济社会各行业各领域广泛深度融合。"
    items[0].background = "“人工智能+”行动此前已写入政府工作报告，此次意见明确了分阶段目标和重点领域。"
    items[0].key_points = ["提出到2027年新一代智能终端、智能体等应用普及率超70%。", "部署科学研究、产业发展、消费提质等六大重点行动。"]
    items[0].source_name = "中国政府网"
    items[-1].title, items[-1].source_url, items[-1].highlight = "某大模型公司完成新一轮融资", "https://36kr.example/p/1", True
    items[-1].summary = "一家国内大模型创业公司宣布完成新一轮融资，资金将用于基础模型研发和算力建设。"
    for item in (items[0], items[-1]):
        item.save()
    for status in ("sending", "sent"):
        digest_transition(next_day, to=status)
weekly = weekly_build(seed.issue_date + datetime.timedelta(days=2), replace=True)
weekly.intro = "本周：地方立法与国家“人工智能+”行动意见接连出台，国产大模型密集发布，融资升温。"
weekly.save()
Path(OUT).write_text(variant_render(weekly, language="zh-hans").html, encoding="utf-8")
"""


def weekly_email(env: dict[str, str], var_dir: Path) -> Path | None:
    """A weekly edition built from the seed and a second daily of its week, as a reader of every category gets it."""
    if not (ROOT / "digests" / "content" / "weekly.py").exists():
        return None
    out = var_dir / "weekly.html"
    result = manage(env, "shell", "-c", f"OUT = {str(out)!r}\n" + WEEKLY_SCRIPT)
    if result.returncode:
        raise SystemExit(f"rendering the weekly edition failed:\n{result.stderr}")
    return out


ONLY: set[str] = set()


def shot(page, path: Path) -> Path | None:
    if ONLY and path.stem not in ONLY:
        return None
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=False)
    return path


if __name__ == "__main__":
    sys.exit(main())
