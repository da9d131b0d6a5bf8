"""Settings for the digest newsletter: every value comes from the environment.

Defaults make ``make run`` work on a laptop with nothing but Python (SQLite,
Celery's file-system broker, an .eml outbox under ``var/``). Production sets
DATABASE_URL, CELERY_BROKER_URL, CACHE_URL, EMAIL_URL and friends; see README.
"""

from __future__ import annotations

import datetime
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

from newsletter.env import (
    env_bool,
    env_choice,
    env_clock,
    env_color,
    env_database,
    env_email,
    env_email_url,
    env_float,
    env_http_url,
    env_https_url_or_empty,
    env_int,
    env_list,
    env_networks,
    env_one_line,
    env_prefixed,
    env_rate,
    env_str,
    env_timezone,
    env_webhook_providers,
    fail,
)
from newsletter.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise fail("SECRET_KEY", "***", "must be at least 32 characters long")
        return key
    # A single-machine install keeps a generated key under var/ so signed reader
    # links survive restarts; multi-machine deployments must set SECRET_KEY
    # (the deploy check says so).
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
SECRET_KEY_FROM_ENV = bool(env_str("SECRET_KEY"))

SITE_URL = env_http_url("SITE_URL", "http://127.0.0.1:8000")
SITE_NAME = env_str("SITE_NAME", "AI 行业动态")
_site_host = urlsplit(SITE_URL).hostname or "localhost"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", _site_host])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL] if SITE_URL.startswith("https") else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "axes",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "digests",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # django-csp's middleware, the policy built once per process (digests/ops/csp.py).
    "digests.ops.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a staff user's own admin language (digests/admin/language.py).
    "digests.admin.language.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "newsletter.urls"
WSGI_APPLICATION = "newsletter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "digests.context_processors.site",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = env_str("CACHE_URL", f"file://{VAR_DIR / 'cache'}")


def _cache(url: str) -> dict:
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
        from redis.retry import Retry

        # A dropped connection (a Redis restart, CLIENT KILL) is reconnected and the command
        # retried, within about a second: a batch's crash journal must not fail on it. The
        # connect timeout is bounded: an unreachable Redis must fail fast so public pages
        # can fall back (rate limits, click de-duplication) instead of hanging.
        retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3)
        options = {
            "retry": retry,
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
            "socket_connect_timeout": 2,
        }
        return {"BACKEND": "newsletter.cache.SharedRedisCache", "LOCATION": url, "OPTIONS": options}
    if scheme == "file":
        return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": urlsplit(url).path}
    if scheme in ("locmem", "memory"):
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    raise fail("CACHE_URL", url, "use redis://host:6379/1, file:///path or locmem://")


CACHES = {"default": _cache(CACHE_URL)}

# Admin login lock-out (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords for one
# account, or from one address, that account or address is refused until the cool-off passes
# or an admin deletes its row under "Access attempts" (or `manage.py axes_reset_username NAME`).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 30, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account and per address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "digests.views.admin_login.admin_locked_out"
# The same client address as the signup limits (CLIENT_IP_HEADER behind a reverse proxy).
AXES_CLIENT_IP_CALLABLE = "digests.views.readers.client_ip"
# Failed attempts are kept (admin "Access failures"); successful logins are not logged again.
AXES_DISABLE_ACCESS_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "zh-hans", tuple(code for code, _name in LANGUAGES))
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_timezone("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Hashed, compressed files once `collectstatic` has run (the Docker build does);
# before that (laptop, tests) whitenoise serves straight from the apps.
_collected = (STATIC_ROOT / "staticfiles.json").exists()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _collected and not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _collected or DEBUG

# --- Mail ------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_email("DEFAULT_FROM_EMAIL", "AI 行业动态 <digest@newsletter.localhost>")
SERVER_EMAIL = env_email("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
REPLY_TO_EMAIL = env_str("REPLY_TO_EMAIL")
PUBLISHER_ADDRESS = env_str("PUBLISHER_ADDRESS", "AI 行业动态编辑部 · editors@newsletter.localhost")
# The publisher's physical mailing address, shown in every digest footer (CAN-SPAM requires one).
PUBLISHER_POSTAL_ADDRESS = env_one_line("PUBLISHER_POSTAL_ADDRESS")

# --- Brand (the email's masthead; shown to editors in the admin preview) -------
BRAND_LOGO_URL = env_https_url_or_empty("BRAND_LOGO_URL")
BRAND_LOGO_WIDTH = env_int("BRAND_LOGO_WIDTH", 120, minimum=1)
BRAND_LOGO_HEIGHT = env_int("BRAND_LOGO_HEIGHT", 32, minimum=1)
BRAND_LOGO_ALT = env_one_line("BRAND_LOGO_ALT", SITE_NAME)
# Decoration and large display text; the darker shade colours text and links (WCAG AA on white).
BRAND_ACCENT_COLOR = env_color("BRAND_ACCENT_COLOR", "#1677ff")
BRAND_ACCENT_TEXT_COLOR = env_color("BRAND_ACCENT_TEXT_COLOR", "#0958d9")
BRAND_TAGLINE = env_one_line("BRAND_TAGLINE", "每天早上，一封读懂 AI 行业")

# Bulk digests and transactional mail (confirmations) have separate connections
# so they can use different providers and a big send never delays a confirmation.
EMAIL_URL = env_str("EMAIL_URL", f"file://{VAR_DIR / 'outbox'}")
MAIL_CONNECTIONS = {
    "bulk": env_email_url("EMAIL_URL", EMAIL_URL),
    "transactional": env_email_url("TRANSACTIONAL_EMAIL_URL", EMAIL_URL),
}
EMAIL_BACKEND = MAIL_CONNECTIONS["transactional"]["backend"]
EMAIL_FILE_PATH = MAIL_CONNECTIONS["transactional"].get("file_path", str(VAR_DIR / "outbox"))
ANYMAIL = env_prefixed("ANYMAIL_")
# Only these providers' tracking webhooks are mounted under /webhooks/anymail/ (any
# other provider's path is a 404): by default the providers of the two mail URLs.
WEBHOOK_PROVIDERS = env_webhook_providers(
    "WEBHOOK_PROVIDERS", [c["provider"] for c in MAIL_CONNECTIONS.values() if c.get("provider")]
)

# --- Celery ----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
if CELERY_BROKER_URL.rstrip("/") == "filesystem:":
    # The file-system transport ignores the host, but kombu warns on every connection without one.
    CELERY_BROKER_URL = "filesystem://localhost/"
if CELERY_BROKER_URL.split("://")[0] not in ("filesystem", "redis", "rediss", "amqp", "memory"):
    raise fail("CELERY_BROKER_URL", CELERY_BROKER_URL, "use redis://host:6379/0, amqp://… or filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcasts (worker remote control) would otherwise land in ./control.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

# --- Newsletter behaviour ---------------------------------------------------
DIGEST_SEND_TIME = env_clock("DIGEST_SEND_TIME", "07:30")
DIGEST_LOCAL_TIME_DELIVERY = env_bool("DIGEST_LOCAL_TIME_DELIVERY", True)
# The weekly edition (digests.content.weekly): items per category besides the week's leads and
# highlights, and when the beat job builds the week's draft (site time; "off": only by hand).
WEEKLY_ITEMS_PER_CATEGORY = env_int("WEEKLY_ITEMS_PER_CATEGORY", 3, minimum=1)
WEEKLY_BUILD_DAY = env_choice("WEEKLY_BUILD_DAY", "fri", ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "off"))
WEEKLY_BUILD_TIME = env_clock("WEEKLY_BUILD_TIME", "12:00")
DIGEST_STALE_AFTER_DAYS = env_int("DIGEST_STALE_AFTER_DAYS", 2, minimum=0)
DELIVERY_BATCH_SIZE = env_int("DELIVERY_BATCH_SIZE", 200, minimum=1)
# Over SMTP, batches sent back to back grow to about this long on the wire (up to 5 × the size above; 0: never).
DELIVERY_BATCH_SECONDS = env_float("DELIVERY_BATCH_SECONDS", 1.0, minimum=0)
DELIVERY_RATE_PER_SECOND = env_float("DELIVERY_RATE_PER_SECOND", 0, minimum=0)
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 8, minimum=1)
DELIVERY_LEASE_SECONDS = env_int("DELIVERY_LEASE_SECONDS", 600, minimum=30)
DELIVERY_RETRY_BASE_SECONDS = env_float("DELIVERY_RETRY_BASE_SECONDS", 30, minimum=0)
DELIVERY_PARALLEL_BATCHES = env_int("DELIVERY_PARALLEL_BATCHES", 4, minimum=1)
# SMTP connections one batch sends over at once (one thread each; see digests/delivery/transport.py).
DELIVERY_SMTP_CONNECTIONS = env_int("DELIVERY_SMTP_CONNECTIONS", 4, minimum=1)
CONFIRMATION_MAX_AGE_DAYS = env_int("CONFIRMATION_MAX_AGE_DAYS", 7, minimum=1)
# How long the preference link in an email works; every new email carries a fresh one.
PREFERENCES_LINK_MAX_AGE_DAYS = env_int("PREFERENCES_LINK_MAX_AGE_DAYS", 60, minimum=1)
SIGNUP_RATE_PER_IP = env_rate("SIGNUP_RATE_PER_IP", "10/h")
SIGNUP_RATE_PER_ADDRESS = env_rate("SIGNUP_RATE_PER_ADDRESS", "3/h")
# Behind a reverse proxy every request comes from the proxy: name the header it
# sets with the client's address (e.g. X-Real-IP) so per-IP limits see readers.
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER")
SOFT_BOUNCE_LIMIT = env_int("SOFT_BOUNCE_LIMIT", 3, minimum=1)
TRACK_CLICKS = env_bool("TRACK_CLICKS", False)
TRACK_OPENS = env_bool("TRACK_OPENS", False)
# The whole message as sent, headers and both parts (Gmail clips at about 102 KB).
EMAIL_SIZE_BUDGET_BYTES = env_int("EMAIL_SIZE_BUDGET_BYTES", 60_000, minimum=1000)
# One cap for a digest file, uploaded in the admin or given to import_digest (1 MiB holds ~1,000 items).
DIGEST_IMPORT_MAX_BYTES = env_int("DIGEST_IMPORT_MAX_BYTES", 1024 * 1024, minimum=1000)
# 8bit where the server accepts 8BITMIME (every large provider does; quoted-printable
# is then used only for a server that does not), or always quoted-printable.
EMAIL_BODY_ENCODING = env_choice("EMAIL_BODY_ENCODING", "8bit", ("8bit", "quoted-printable"))

# --- Automation: the REST API, outgoing webhooks, the autopilot ----------------
# off: digests arrive as drafts; review: scheduled, sent only once a Publisher
# approves; on: scheduled and sent unless the pre-send checks find an error.
DIGEST_AUTOPILOT = env_choice("DIGEST_AUTOPILOT", "off", ("off", "review", "on"))
# Minutes before the send time by which a Publisher must approve (review mode).
DIGEST_APPROVAL_CUTOFF = env_int("DIGEST_APPROVAL_CUTOFF", 60, minimum=0)
API_RATE_LIMIT = env_rate("API_RATE_LIMIT", "120/m")
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["digests.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["digests.api.auth.HasScopes"],
    "DEFAULT_THROTTLE_CLASSES": ["digests.api.auth.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
    # ?format= belongs to the preview (html|text); responses are chosen by the Accept header.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} API",
    "DESCRIPTION": "Publish the daily digest, schedule its send and manage readers. Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "DigestStatusEnum": "digests.models.content.Digest.Status",
        "SubscriberStatusEnum": "digests.models.readers.Subscriber.Status",
        "LanguageEnum": "digests.models.readers.Subscriber.Language",
    },
}

# --- Security ----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if SITE_URL.startswith("https://") and not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and Prometheus talk to the container over plain http on the internal network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Content-Security-Policy on every page and the admin (django-csp): scripts only from our
# own static files, never inline; <style> blocks only with the per-response nonce
# (templates write nonce="{{ request.csp_nonce }}"); no style attributes, no plugins, no
# framing. The admin's email preview sends its own, narrower policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# includeSubDomains and preload bind every host under the operator's domain to https,
# for months; that is the operator's decision (the two variables above), not a default.
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS", ["security.W005", "security.W021"])

# --- Operations ----------------------------------------------------------------
# Celery must not replace the handlers below, so workers log in the same format as web.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
LOG_FORMAT = env_choice("LOG_FORMAT", "text" if DEBUG else "json", ("json", "text"))
LOGGING = logging_config(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO").upper())

# /metrics answers clients on these networks, or any client that sends the bearer token.
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = env_str("METRICS_TOKEN")
# A scrape's figures are computed at most once per this many seconds, shared by every web process
# (kept in the cache): a scrape then costs less than a page view however big the tables. 0: every scrape.
METRICS_CACHE_SECONDS = env_int("METRICS_CACHE_SECONDS", 5, minimum=0)
