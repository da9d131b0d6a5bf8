# The one image for every role: web (gunicorn), workers and beat (Celery), and migrate.
# Build: docker compose build    Run: see docker-compose.yml and README "Production with docker compose".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=newsletter.settings \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

# gettext: compilemessages needs msgfmt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group app

WORKDIR /app

# Extras some mail providers need, comma-separated (README "Connecting a mail provider"):
# docker compose build --build-arg MAIL_EXTRAS=amazon-ses
ARG MAIL_EXTRAS=""

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml README.md ./
RUN mkdir -p newsletter digests \
    && touch newsletter/__init__.py digests/__init__.py \
    && if [ -n "$MAIL_EXTRAS" ]; then pip install ".[$MAIL_EXTRAS]"; else pip install .; fi \
    && pip uninstall -y daily-digest-newsletter \
    && rm -rf newsletter digests build *.egg-info

COPY . .
# Editable, so settings.BASE_DIR is /app and the templates/ folder is found.
RUN pip install --no-deps -e .

# Static files and message catalogues are built into the image. The throw-away key
# and VAR_DIR keep build-time settings from writing a real secret into a layer.
RUN SECRET_KEY=build-time-only-not-a-secret-0123456789abcdef VAR_DIR=/tmp/build-var DEBUG=false \
        python manage.py collectstatic --noinput \
    && if find . -type d -name locale -not -path './.venv/*' | grep -q .; then \
        SECRET_KEY=build-time-only-not-a-secret-0123456789abcdef VAR_DIR=/tmp/build-var \
        python manage.py compilemessages --ignore=.venv; \
    fi \
    && rm -rf /tmp/build-var \
    && mkdir -p /app/var \
    && chown -R app:app /app/var

USER app
EXPOSE 8000

CMD ["gunicorn", "newsletter.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
