"""Read settings from the environment, failing loudly with the variable's name.

Every helper raises ``ImproperlyConfigured`` naming the variable and the value it
could not use, so a typo in production stops the process at start-up instead of
surfacing as a strange error in the middle of a send.
"""

from __future__ import annotations

import os
import zoneinfo
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def fail(name: str, value: str, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name}={value!r} is invalid: {why}")


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise fail(name, raw, "expected one of true/false, 1/0, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise fail(name, raw, "expected a whole number") from None
    if minimum is not None and value < minimum:
        raise fail(name, raw, f"must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise fail(name, raw, "expected a number") from None
    if minimum is not None and value < minimum:
        raise fail(name, raw, f"must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_timezone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise fail(name, value, "not an IANA time zone name such as Asia/Shanghai") from None
    return value


def env_http_url(name: str, default: str) -> str:
    value = env_str(name, default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(name, value, "expected an absolute http(s) URL such as https://news.example.com")
    return value


def env_email(name: str, default: str) -> str:
    value = env_str(name, default)
    _, address = parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise fail(name, value, 'expected an address such as "Daily Digest <digest@example.com>"')
    if "\n" in value or "\r" in value:
        raise fail(name, value, "must not contain line breaks")
    return value


def env_database(name: str, default: str) -> dict:
    import dj_database_url

    value = env_str(name, default)
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except (ValueError, KeyError, dj_database_url.UnknownSchemeError) as exc:  # type: ignore[attr-defined]
        raise fail(name, value, f"not a database URL ({exc})") from None
    if not config.get("ENGINE"):
        raise fail(name, value, "unknown database scheme; use postgres:// or sqlite:///")
    if config["ENGINE"].endswith("sqlite3"):
        config["CONN_MAX_AGE"] = 0
        config.pop("CONN_HEALTH_CHECKS", None)
        config["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20}
    return config


# Providers sent through our subclass of anymail's backend (same settings, webhooks and errors):
# Mailgun's, whose 1,000-reader batch calls it builds in bulk (digests/mail/mailgun.py).
ANYMAIL_BACKENDS = {"mailgun": "digests.mail.mailgun.EmailBackend"}

EMAIL_SCHEMES = "smtp://, smtp+tls://, smtp+ssl://, file:///path, console://, memory://, anymail://PROVIDER"


def email_url_parse(name: str, value: str) -> dict:
    """Turn an EMAIL_URL into the keyword arguments of ``get_connection``.

    The result always has ``backend``; SMTP URLs add host, port, credentials and
    TLS flags; ``file`` URLs add ``file_path`` for the .eml outbox.
    """
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if scheme in ("smtp", "smtp+tls", "smtp+ssl", "smtps"):
        if not parts.hostname:
            raise fail(name, value, "an SMTP URL needs a host, e.g. smtp://mail.example.com:587")
        try:
            port = parts.port
        except ValueError:
            raise fail(name, value, "the port is not a number") from None
        use_ssl = scheme in ("smtp+ssl", "smtps")
        use_tls = scheme == "smtp+tls"
        try:
            timeout = float(query.get("timeout", "30"))
        except ValueError:
            raise fail(name, value, "timeout= must be a number of seconds") from None
        return {
            "backend": "django.core.mail.backends.smtp.EmailBackend",
            "host": parts.hostname,
            "port": port or (465 if use_ssl else 587 if use_tls else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": use_tls,
            "use_ssl": use_ssl,
            "timeout": timeout,
        }
    if scheme == "file":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise fail(name, value, "a file URL needs a folder, e.g. file:///srv/newsletter/outbox")
        return {"backend": "digests.mail.outbox.EmailBackend", "file_path": str(Path(path))}
    if scheme == "console":
        return {"backend": "django.core.mail.backends.console.EmailBackend"}
    if scheme in ("memory", "locmem"):
        return {"backend": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme == "anymail":
        provider = (parts.netloc or parts.path.strip("/")).lower().replace("-", "_")
        if not provider.isidentifier():
            raise fail(name, value, "name the provider, e.g. anymail://postmark or anymail://mailgun")
        import importlib.util

        module = f"anymail.backends.{provider}"
        if importlib.util.find_spec(module) is None:
            raise fail(name, value, f"django-anymail has no provider called {provider!r}")
        return {"backend": ANYMAIL_BACKENDS.get(provider, f"{module}.EmailBackend"), "provider": provider}
    raise fail(name, value, f"unknown scheme; use one of {EMAIL_SCHEMES}")


def env_email_url(name: str, default: str) -> dict:
    return email_url_parse(name, env_str(name, default) or default)


def env_prefixed(prefix: str) -> dict[str, str | list[str]]:
    """Collect PREFIX_KEY=value variables into {"KEY": value}; comma lists for secrets."""
    collected: dict[str, str | list[str]] = {}
    for key, value in os.environ.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            setting = key[len(prefix) :]
            if setting == "WEBHOOK_SECRET" and "," in value:
                collected[setting] = [part.strip() for part in value.split(",") if part.strip()]
            else:
                collected[setting] = value
    return collected


def env_webhook_providers(name: str, default: list[str]) -> list[str]:
    """Comma-separated anymail provider names (``postmark,mailgun``), each one anymail has a webhook for."""
    import importlib.util

    providers = []
    for part in env_list(name, default):
        provider = part.lower().replace("-", "_")
        if not provider.isidentifier() or importlib.util.find_spec(f"anymail.webhooks.{provider}") is None:
            raise fail(name, part, "not a django-anymail provider with webhooks (e.g. postmark, mailgun, amazon_ses)")
        providers.append(provider)
    return sorted(set(providers))


def env_networks(name: str, default: list[str]) -> list:
    """A comma-separated list of CIDR networks (``10.0.0.0/8,::1/128``); a bare address means just it."""
    import ipaddress

    networks = []
    for part in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise fail(name, part, "expected an IP network such as 127.0.0.1/32 or 10.0.0.0/8") from None
    return networks


RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str, *, setting: str = "rate") -> tuple[int, int]:
    """``"10/h"`` → ``(10, 3600)``; raises ImproperlyConfigured naming ``setting`` otherwise."""
    count, _, period = (rate or "").strip().partition("/")
    if not count.strip().isdigit() or period.strip().lower() not in RATE_PERIODS:
        raise fail(setting, rate, "write it as N/s, N/m, N/h or N/d, e.g. 10/h")
    return int(count), RATE_PERIODS[period.strip().lower()]


def env_rate(name: str, default: str) -> str:
    """A rate such as ``10/h`` (N per s, m, h or d), checked at start-up."""
    value = env_str(name, default)
    rate_parse(value, setting=name)
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise fail(name, value, f"expected one of {', '.join(choices)}")
    return value


def env_clock(name: str, default: str) -> str:
    """A time of day written HH:MM (24-hour), e.g. 07:30."""
    value = env_str(name, default)
    hours, sep, minutes = value.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60):
        raise fail(name, value, "expected a time of day as HH:MM, e.g. 07:30")
    return value


def env_color(name: str, default: str) -> str:
    """A CSS colour written #rrggbb, e.g. #1677ff."""
    value = env_str(name, default).lower()
    if not (len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdef" for c in value[1:])):
        raise fail(name, value, "expected a colour as #rrggbb, e.g. #1677ff")
    return value


def env_https_url_or_empty(name: str) -> str:
    """An absolute https URL (an image mail clients load), or empty."""
    value = env_str(name)
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c in value for c in " \"'<>"):
        raise fail(name, value, "expected an absolute https URL such as https://news.example.com/logo.png, or nothing")
    return value


def env_one_line(name: str, default: str = "") -> str:
    value = env_str(name, default)
    if "\n" in value or "\r" in value:
        raise fail(name, value, "must be one line")
    return value
