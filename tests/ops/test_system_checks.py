"""`manage.py check --deploy` is clean in production and names every unsafe setting otherwise."""

import os
import secrets
import subprocess
import sys

import pytest

from digests import system_checks as checks
from newsletter.celery import app
from tests.helpers.paths import ROOT

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SITE_URL": "https://news.example.com",
    "ALLOWED_HOSTS": "news.example.com",
    "DATABASE_URL": "postgres://newsletter:pw@db.internal:5432/newsletter",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "CACHE_URL": "redis://redis.internal:6379/1",
    "EMAIL_URL": "anymail://postmark",
    "ANYMAIL_POSTMARK_SERVER_TOKEN": "server-token",
    "ANYMAIL_WEBHOOK_SECRET": "hook:" + secrets.token_urlsafe(20),
    "DEFAULT_FROM_EMAIL": "AI 行业动态 <digest@news.example.com>",
    "PUBLISHER_ADDRESS": "AI 行业动态编辑部 · editors@news.example.com",
    "PUBLISHER_POSTAL_ADDRESS": "100 Example Street, Suite 1, Springfield 12345, USA",
}


def check_deploy(tmp_path, **overrides) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH")}
    env = {**inherited, **PRODUCTION_ENV, "VAR_DIR": str(tmp_path), **overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={k: v for k, v in env.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = check_deploy(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_the_unsafe_settings_of_a_laptop_configuration(tmp_path):
    laptop = {key: None for key in PRODUCTION_ENV} | {"DEBUG": "false"}

    result = check_deploy(tmp_path, **laptop)

    assert result.returncode != 0
    for check_id in (
        "digests.W001",
        "digests.W003",
        "digests.W004",
        "digests.W006",
        "digests.W007",
        "digests.W011",
        "digests.W012",
    ):
        assert check_id in result.stderr, (check_id, result.stderr)


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_an_http_site_url_is_flagged(settings):
    settings.DEBUG = False
    settings.SITE_URL = "http://news.example.com"
    assert ids(checks.check_site_url(None)) == ["digests.W002"]
    settings.SITE_URL = "https://localhost:8000"
    assert ids(checks.check_site_url(None)) == ["digests.W001"]
    settings.SITE_URL = "https://news.example.com"
    assert checks.check_site_url(None) == []


def test_an_empty_postal_address_or_a_reserved_footer_domain_is_flagged(settings):
    settings.DEBUG = False
    settings.PUBLISHER_POSTAL_ADDRESS = ""
    settings.PUBLISHER_ADDRESS = "AI 行业动态编辑部 · editors@newsletter.localhost"
    assert ids(checks.check_footer_identity(None)) == ["digests.W011", "digests.W012"]
    settings.PUBLISHER_POSTAL_ADDRESS = "北京市海淀区中关村大街 1 号"
    settings.PUBLISHER_ADDRESS = "AI 行业动态编辑部 · editors@news.example.com"
    assert checks.check_footer_identity(None) == []


def test_the_postal_address_is_in_every_digest_footer(seed_digest, settings):
    from digests.rendering.render import variant_render
    from tests.helpers.html import parse_html

    settings.PUBLISHER_POSTAL_ADDRESS = "北京市海淀区中关村大街 1 号 <100080>"
    rendered = variant_render(seed_digest)
    assert "北京市海淀区中关村大街 1 号 <100080>" in parse_html(rendered.html).find_class("ft")[0].text_content()
    assert "北京市海淀区中关村大街 1 号 <100080>" in rendered.text


def test_debug_mode_is_not_nagged_about_production_settings(settings):
    settings.DEBUG = True
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.ANYMAIL = {}
    settings.DEFAULT_FROM_EMAIL = "digest@newsletter.localhost"

    assert checks.check_site_url(None) + checks.check_webhook_secret(None) + checks.check_from_domain(None) == []


def test_a_missing_webhook_secret_is_flagged(settings):
    settings.DEBUG = False
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "t"}
    assert ids(checks.check_webhook_secret(None)) == ["digests.W003"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["old:1", "new:2"]}
    assert checks.check_webhook_secret(None) == []


@pytest.mark.parametrize("address", ["digest@newsletter.localhost", "News <news@box.local>", "a@mail.test", "x@localhost"])
def test_a_from_address_on_a_reserved_domain_is_flagged(settings, address):
    settings.DEBUG = False
    settings.DEFAULT_FROM_EMAIL = address

    assert ids(checks.check_from_domain(None)) == ["digests.W004"]


def test_a_from_domain_that_mailgun_cannot_sign_for_is_flagged(settings):
    settings.DEBUG = False
    settings.MAIL_CONNECTIONS = {
        "bulk": {"backend": "anymail.backends.mailgun.EmailBackend", "provider": "mailgun"},
        "transactional": {"backend": "django.core.mail.backends.smtp.EmailBackend"},
    }
    settings.ANYMAIL = {"MAILGUN_SENDER_DOMAIN": "mg.example.com", "WEBHOOK_SECRET": "a:b"}

    settings.DEFAULT_FROM_EMAIL = "AI 行业动态 <digest@news.example.com>"
    assert ids(checks.check_from_domain(None)) == ["digests.W005"]
    settings.DEFAULT_FROM_EMAIL = "AI 行业动态 <digest@mg.example.com>"
    assert checks.check_from_domain(None) == []


def test_a_generated_secret_key_is_flagged(settings):
    settings.DEBUG = False
    settings.SECRET_KEY_FROM_ENV = False

    assert ids(checks.check_secret_key_from_env(None)) == ["digests.W006"]


def test_secrets_left_at_their_env_example_values_are_flagged(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "change-me-K2rJ8vQx7LmN4pT9wZb3cF6hY1sD5gA0eU8iO2kR7nV4xM"

    messages = checks.check_example_secrets(None)

    assert ids(messages) == ["digests.W008"] and "SECRET_KEY" in messages[0].msg


def test_a_missing_dispatcher_in_the_beat_schedule_is_an_error():
    assert checks.check_beat_schedule(None) == []
    original = app.conf.beat_schedule
    app.conf.beat_schedule = {k: v for k, v in original.items() if k != "dispatch-due-digests"}
    try:
        messages = checks.check_beat_schedule(None)
    finally:
        app.conf.beat_schedule = original

    assert ids(messages) == ["digests.E001"]


def test_the_beat_schedule_check_runs_without_deploy():
    from django.core.checks import registry

    assert checks.check_beat_schedule in registry.registry.get_checks(include_deployment_checks=False)
    assert checks.check_site_url not in registry.registry.get_checks(include_deployment_checks=False)


def test_a_configured_provider_without_its_webhook_key_fails_the_check_instead_of_500s(tmp_path):
    result = check_deploy(tmp_path, WEBHOOK_PROVIDERS="postmark,mailgun")

    assert result.returncode != 0
    assert "digests.E002" in result.stderr and "'mailgun'" in result.stderr and "WEBHOOK_SIGNING_KEY" in result.stderr


def test_check_deploy_is_clean_with_amazon_ses_once_its_extra_is_installed(tmp_path):
    result = check_deploy(tmp_path, EMAIL_URL="anymail://amazon_ses", ANYMAIL_POSTMARK_SERVER_TOKEN=None)

    assert result.returncode == 0, result.stdout + result.stderr
