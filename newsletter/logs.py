"""Log lines for operators: one JSON object per line in production, readable text on a laptop.

Sending code logs ids as structured fields, never addresses::

    logger.info("batch sent", extra=log_fields(digest_id=d.pk, batch=token, subscriber_id=s.pk))

Both formatters also replace anything that looks like an email address with
``[address]`` in the message, the fields and tracebacks (an SMTP error names the
refused recipient, for example), so a slip in a log call cannot leak readers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# Fields sending code attaches with ``extra=``; the text formatter appends them as key=value.
STRUCTURED_FIELDS = ("digest_id", "batch", "subscriber_id", "delivery_id", "variant", "provider", "queue", "task_id")

REDACTED = "[address]"
# Deliberately broad (any non-space run around an @ with a dot after it): catching a
# non-address now and then costs nothing, missing an address costs a reader's privacy.
ADDRESS_RE = re.compile(r"[^\s@<>()\[\]{}\"',;:]+@[^\s@<>()\[\]{}\"',;:]+\.[^\s@<>()\[\]{}\"',;:]+")


def address_redact(text: str) -> str:
    """Return ``text`` with every email-address-like substring replaced by ``[address]``."""
    return ADDRESS_RE.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return address_redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(item) for item in value]
    return value


def log_fields(
    *,
    digest_id: int | None = None,
    batch: str | None = None,
    subscriber_id: int | None = None,
    **more: Any,
) -> dict[str, Any]:
    """The ``extra=`` dict for a sending log line: the given ids, without the ones left out."""
    fields = {"digest_id": digest_id, "batch": batch, "subscriber_id": subscriber_id, **more}
    return {key: value for key, value in fields.items() if value is not None}


class FieldsAdapter(logging.LoggerAdapter):
    """A logger that adds fixed fields (say a digest id and batch) to every line it writes."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


def logger_with_fields(logger: logging.Logger | str, **fields: Any) -> FieldsAdapter:
    """Wrap ``logger`` so every line carries ``fields`` (use log_fields' names)."""
    if isinstance(logger, str):
        logger = logging.getLogger(logger)
    return FieldsAdapter(logger, log_fields(**fields))


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message and every extra field, addresses redacted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_ensure_ascii", False)
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__(*args or ("{levelname}{name}{message}",), **{"style": "{", **kwargs})

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _redact_value(value) for key, value in super().process_log_record(log_data).items()}


class TextFormatter(logging.Formatter):
    """``time LEVEL logger message key=value…`` for development, addresses redacted."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%", **kwargs: Any) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s", datefmt, style, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = " ".join(
            f"{name}={getattr(record, name)}" for name in STRUCTURED_FIELDS if getattr(record, name, None) is not None
        )
        if pairs:
            head, newline, rest = line.partition("\n")
            line = f"{head} {pairs}{newline}{rest}"
        return address_redact(line)


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING dict for ``settings``: ``json`` or ``text`` lines on stderr."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "newsletter.logs.JsonLineFormatter"},
            "text": {"()": "newsletter.logs.TextFormatter"},
        },
        "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": formatter},
            "mail_admins": {
                "level": "ERROR",
                "filters": ["require_debug_false"],
                "class": "django.utils.log.AdminEmailHandler",
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # cssutils (used by premailer) warns about mso-* properties that email needs.
            "CSSUTILS": {"level": "CRITICAL", "propagate": False},
            # Django's default config gives "django" a console handler of its own (when
            # DEBUG is on) that printed every django line twice with ours; keep its admin mails.
            "django": {"handlers": ["console", "mail_admins"], "level": level, "propagate": False},
            # gunicorn's own handlers would print a second, unformatted copy.
            "gunicorn.error": {"handlers": ["console"], "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "propagate": False},
        },
    }
