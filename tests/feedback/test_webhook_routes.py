"""Only the configured providers' webhooks exist, and a stranger's request is a 400 with one warning (issue 11.8)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tomllib
import uuid

import pytest
from django.core import mail

from digests.models import DeliveryEvent
from tests.helpers.paths import ROOT
from tests.helpers.webhooks import (
    MAILGUN_URL,
    POSTMARK_URL,
    SECRETS,
    basic_auth,
    iso_now,
    metadata,
    postmark_bounce,
    webhook_routes,
)

pytestmark = pytest.mark.django_db

SES_URL = "/webhooks/anymail/amazon_ses/tracking/"


@pytest.fixture
def postmark_only(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": list(SECRETS)}
    with webhook_routes("postmark"):
        yield


@pytest.mark.parametrize(
    "path",
    [
        MAILGUN_URL,
        SES_URL,
        "/webhooks/anymail/sendgrid/tracking/",
        "/webhooks/anymail/mandrill/",
        "/webhooks/anymail/postmark/inbound/",
    ],
)
def test_routes_of_providers_that_are_not_configured_do_not_exist(client, postmark_only, path):
    response = client.post(path, data="{}", content_type="application/json", **basic_auth())
    assert response.status_code == 404
    assert mail.outbox == []


def test_the_configured_providers_route_answers(client, postmark_only, sent):
    response = client.post(
        POSTMARK_URL, data=json.dumps(postmark_bounce(sent["deliveries"][0])), content_type="application/json", **basic_auth()
    )
    assert response.status_code == 200
    assert DeliveryEvent.objects.count() == 1


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[]", b'"a string"', b"42", b"null", b'[{"RecordType": "Bounce"}]'])
def test_an_authenticated_malformed_or_non_object_body_is_a_400(client, postmark_only, body, sent):
    response = client.post(POSTMARK_URL, data=body, content_type="application/json", **basic_auth())
    assert response.status_code == 400
    assert DeliveryEvent.objects.count() == 0


@pytest.mark.parametrize(
    "auth, body",
    [({}, b"{}"), (basic_auth("webhook:wrong"), b"{}"), (basic_auth(), b"{not json")],
    ids=["no-auth", "bad-auth", "bad-json"],
)
def test_a_rejected_webhook_logs_one_warning_line_without_traceback_or_admin_mail(client, postmark_only, caplog, auth, body):
    caplog.set_level(logging.INFO)
    response = client.post(POSTMARK_URL, data=body, content_type="application/json", **auth)
    assert response.status_code == 400
    noted = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(noted) == 1, [r.getMessage() for r in noted]
    assert noted[0].levelno == logging.WARNING and noted[0].exc_info is None
    assert "Postmark webhook rejected" in noted[0].getMessage()
    assert mail.outbox == []


def test_the_providers_come_from_the_mail_urls_unless_webhook_providers_names_them():
    def providers(**env):
        clean = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "TRANSACTIONAL_EMAIL_URL", "WEBHOOK_PROVIDERS")}
        code = "from django.conf import settings; print(','.join(settings.WEBHOOK_PROVIDERS))"
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=ROOT,
            env={**clean, "DJANGO_SETTINGS_MODULE": "newsletter.settings", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout.strip() if result.returncode == 0 else result.stderr

    assert providers() == ""
    assert providers(EMAIL_URL="anymail://mailgun", TRANSACTIONAL_EMAIL_URL="anymail://postmark") == "mailgun,postmark"
    assert providers(EMAIL_URL="anymail://mailgun", WEBHOOK_PROVIDERS="mailgun,sparkpost") == "mailgun,sparkpost"
    assert "WEBHOOK_PROVIDERS" in providers(WEBHOOK_PROVIDERS="no-such-provider")


# --- Amazon SES: works after the documented install (the amazon-ses extra brings boto3) -------------


def test_the_amazon_ses_extra_brings_boto3_and_the_docker_build_can_install_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("boto3") for dep in project["optional-dependencies"]["amazon-ses"])
    assert any(dep.startswith("svix") for dep in project["optional-dependencies"]["resend"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG MAIL_EXTRAS" in dockerfile and '".[$MAIL_EXTRAS]"' in dockerfile


def _ses_notification(delivery) -> dict:
    message = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": delivery.subscriber.email, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": iso_now(),
            "feedbackId": "0100017b-bounce",
        },
        "mail": {
            "timestamp": iso_now(-60),
            "messageId": "ses-" + str(delivery.pk),
            "destination": [delivery.subscriber.email],
            "headers": [{"name": "X-Metadata", "value": json.dumps(metadata(delivery))}],
        },
    }
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-tracking",
        "Message": json.dumps(message),
        "Timestamp": iso_now(),
    }


def _post_ses(client, body: dict, **auth):
    return client.post(
        SES_URL,
        data=json.dumps(body),
        content_type="text/plain; charset=UTF-8",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE=body.get("Type", ""),
        HTTP_X_AMZ_SNS_MESSAGE_ID=body.get("MessageId", ""),
        **auth,
    )


@pytest.fixture
def ses_only(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": list(SECRETS)}
    with webhook_routes("amazon_ses"):
        yield


def test_an_amazon_ses_bounce_arrives_through_sns(client, ses_only, sent, eager_celery, django_capture_on_commit_callbacks):
    delivery = sent["deliveries"][0]
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_ses(client, _ses_notification(delivery), **basic_auth())
    assert response.status_code == 200
    event = DeliveryEvent.objects.get()
    assert (event.delivery, event.provider, event.event_type) == (delivery, "amazon ses", "bounced")


def test_amazon_ses_keeps_the_sns_basic_auth_challenge_and_refuses_bad_bodies(client, ses_only, sent):
    assert _post_ses(client, _ses_notification(sent["deliveries"][0])).status_code == 401
    assert _post_ses(client, {"Type": "Notification", "MessageId": "m1", "Message": "{broken"}, **basic_auth()).status_code == 400
    bad = client.post(
        SES_URL, data=b"not json", content_type="text/plain", HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification", **basic_auth()
    )
    assert bad.status_code == 400
    assert DeliveryEvent.objects.count() == 0


def test_the_webhook_needs_no_csrf_token(postmark_only, sent):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(
        POSTMARK_URL, data=json.dumps(postmark_bounce(sent["deliveries"][0])), content_type="application/json", **basic_auth()
    )
    assert response.status_code == 200
