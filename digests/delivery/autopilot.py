"""The autopilot: a digest that arrives from a pipeline schedules itself, within the editors' rules.

DIGEST_AUTOPILOT is ``off`` (it stays a draft), ``review`` (scheduled, but sent
only if a Publisher approves it at least DIGEST_APPROVAL_CUTOFF minutes before
the send) or ``on`` (scheduled and sent unless the pre-send checks report an
error). A digest the autopilot will not send is *held*: back to draft, the
Publishers are emailed and ``digest.held`` fires.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from digests.content.services import TransitionError, digest_transition
from digests.delivery.schedule import digest_schedule
from digests.mail.publishers import publishers_notify
from digests.models import Digest
from digests.rendering.presend import digest_check_errors
from digests.webhooks.events import digest_data, event_emit

log = logging.getLogger(__name__)

A = Digest.Autopilot
OFF, REVIEW, ON = "off", "review", "on"


def approval_deadline(digest: Digest) -> datetime.datetime | None:
    """When a Publisher's approval must be in for a digest awaiting it."""
    if digest.autopilot != A.AWAITING_APPROVAL or digest.scheduled_at is None:
        return None
    return digest.scheduled_at - datetime.timedelta(minutes=settings.DIGEST_APPROVAL_CUTOFF)


def digest_autopilot(digest: Digest, *, mode: str | None = None) -> Digest:
    """Apply the autopilot to a digest that just arrived (API or ``import_digest --schedule``)."""
    mode = mode or settings.DIGEST_AUTOPILOT
    if mode == OFF or digest.status != Digest.Status.DRAFT:
        return digest
    errors = digest_check_errors(digest)
    if errors:
        event_emit(
            "digest.checks_failed", digest_data(digest, problems=[{"code": p.code, "message": str(p.message)} for p in errors])
        )
        return digest_hold(digest, reason="; ".join(str(p.message) for p in errors))
    with transaction.atomic():
        digest_schedule(digest)
        state = A.AWAITING_APPROVAL if mode == REVIEW else A.AUTOMATIC
        Digest.objects.filter(pk=digest.pk).update(autopilot=state, autopilot_note="")
        digest.autopilot, digest.autopilot_note = state, ""
    return digest


def digest_approve(digest: Digest, *, user) -> bool:
    """A Publisher's approval of a digest awaiting it (review mode); False if it was not awaiting approval."""
    updated = Digest.objects.filter(pk=digest.pk, autopilot=A.AWAITING_APPROVAL, status=Digest.Status.SCHEDULED).update(
        autopilot=A.APPROVED, approved_by=user, approved_at=timezone.now()
    )
    if updated:
        digest.refresh_from_db()
    return bool(updated)


def digest_hold(digest: Digest, *, reason: str) -> Digest:
    """Keep the autopilot from sending ``digest``: back to draft, Publishers emailed, ``digest.held`` fired."""
    with transaction.atomic():
        if digest.status == Digest.Status.SCHEDULED:
            digest_transition(digest, to=Digest.Status.DRAFT)
        Digest.objects.filter(pk=digest.pk).update(autopilot=A.HELD, autopilot_note=reason)
        digest.autopilot, digest.autopilot_note = A.HELD, reason
        event_emit("digest.held", digest_data(digest, reason=reason))
    log.warning("digest %s held by the autopilot: %s", digest.pk, reason)
    try:
        publishers_notify(
            subject=f"Held: {digest}",
            body=(
                f"The autopilot did not send “{digest}”.\n\nWhy: {reason}\n\n"
                f"Open it in the admin: {settings.SITE_URL}/admin/digests/digest/{digest.pk}/change/\n"
                "Fix it and schedule it by hand, or approve it before the deadline next time."
            ),
        )
    except OSError:
        log.exception("could not email the Publishers about held digest %s", digest.pk)
    return digest


def digests_hold_unapproved(*, now: datetime.datetime | None = None) -> list[int]:
    """Hold every scheduled digest still awaiting approval once its deadline has passed (the dispatcher's tick)."""
    now = now or timezone.now()
    cutoff = datetime.timedelta(minutes=settings.DIGEST_APPROVAL_CUTOFF)
    held = []
    for digest in Digest.objects.filter(
        status=Digest.Status.SCHEDULED, autopilot=A.AWAITING_APPROVAL, scheduled_at__lte=now + cutoff
    ):
        try:
            digest_hold(digest, reason=f"not approved by a Publisher {settings.DIGEST_APPROVAL_CUTOFF} minutes before the send")
        except TransitionError:
            continue
        held.append(digest.pk)
    return held
