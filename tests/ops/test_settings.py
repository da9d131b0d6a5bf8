"""Configuration comes from the environment and fails loudly, naming the variable."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from newsletter.env import email_url_parse, env_bool, env_database, env_http_url, env_timezone
from tests.helpers.paths import ROOT


def test_smtp_urls_become_connection_options():
    plain = email_url_parse("EMAIL_URL", "smtp://mail.example.com:2525")
    assert plain["backend"].endswith("smtp.EmailBackend")
    assert (plain["host"], plain["port"], plain["use_tls"], plain["use_ssl"]) == ("mail.example.com", 2525, False, False)

    tls = email_url_parse("EMAIL_URL", "smtp+tls://user%40x:p%40ss@mail.example.com")
    assert (tls["port"], tls["use_tls"], tls["username"], tls["password"]) == (587, True, "user@x", "p@ss")

    assert email_url_parse("EMAIL_URL", "smtp+ssl://mail.example.com")["use_ssl"] is True


def test_file_url_writes_an_outbox_folder():
    options = email_url_parse("EMAIL_URL", "file:///srv/outbox")
    assert options == {"backend": "digests.mail.outbox.EmailBackend", "file_path": "/srv/outbox"}


def test_anymail_url_selects_the_provider_backend():
    assert email_url_parse("EMAIL_URL", "anymail://postmark")["backend"] == "anymail.backends.postmark.EmailBackend"
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL.*no provider called 'nosuchmail'"):
        email_url_parse("EMAIL_URL", "anymail://nosuchmail")


@pytest.mark.parametrize(
    "value, message",
    [
        ("gopher://mail", "unknown scheme"),
        ("smtp://", "needs a host"),
        ("smtp://host:notaport", "port is not a number"),
    ],
)
def test_bad_email_urls_name_the_variable(value, message):
    with pytest.raises(ImproperlyConfigured, match=rf"EMAIL_URL=.*{message}"):
        email_url_parse("EMAIL_URL", value)


def test_malformed_values_name_their_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        env_bool("DEBUG", False)
    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE.*IANA"):
        env_timezone("TIME_ZONE", "Asia/Shanghai")
    monkeypatch.setenv("SITE_URL", "news.example.com")
    with pytest.raises(ImproperlyConfigured, match="SITE_URL.*absolute"):
        env_http_url("SITE_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("DATABASE_URL", "oracle-ish://x")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        env_database("DATABASE_URL", "sqlite:///x")


def test_the_process_refuses_to_start_with_a_bad_setting(tmp_path):
    env = {**os.environ, "TIME_ZONE": "Nowhere/Land", "VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "TIME_ZONE='Nowhere/Land' is invalid" in result.stderr


def test_defaults_need_nothing_but_python(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "EMAIL_URL")}
    env["VAR_DIR"] = str(tmp_path)
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.MAIL_CONNECTIONS['bulk']['backend'], s.TIME_ZONE)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == [
        "django.db.backends.sqlite3",
        "filesystem://localhost/",
        "digests.mail.outbox.EmailBackend",
        "Asia/Shanghai",
    ]


@pytest.mark.parametrize("value", ["7.30", "25:00", "07:61", "07:5", "morning"])
def test_a_malformed_send_time_names_the_variable(monkeypatch, value):
    from newsletter.env import env_clock

    monkeypatch.setenv("DIGEST_SEND_TIME", value)
    with pytest.raises(ImproperlyConfigured, match="DIGEST_SEND_TIME.*HH:MM"):
        env_clock("DIGEST_SEND_TIME", "07:30")
    monkeypatch.setenv("DIGEST_SEND_TIME", "6:05")
    assert env_clock("DIGEST_SEND_TIME", "07:30") == "6:05"
