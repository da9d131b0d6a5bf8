"""Making readers (subscribers) for tests: one at a time, or many synthetic ones for a send; comparing reader pages."""

from __future__ import annotations

import datetime
import random
import re

from django.utils import timezone

from digests.models import Subscriber

CSRF_INPUT = re.compile(rb'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')
CSP_NONCE = re.compile(rb' nonce="[^"]*"')


def without_csrf(body: bytes) -> bytes:
    """``body`` without what differs on every response: the CSRF token and the Content-Security-Policy nonce."""
    return CSP_NONCE.sub(b"", CSRF_INPUT.sub(b"", body))


def make_reader(
    email: str = "reader@example.com",
    status: str = Subscriber.Status.ACTIVE,
    categories=(),
    *,
    life_cycle: bool = True,
    **fields,
) -> Subscriber:
    """A subscriber with ``status`` (active by default).

    By default the reader is created pending and walks the life cycle to ``status``
    through ``subscriber_transition``, which stamps ``confirmed_at``, ``unsubscribed_at``
    and the rest as a real reader's would be.

    With ``life_cycle=False`` the row is written as given instead, confirmed a month
    ago unless ``confirmed_at`` says otherwise: for tests that set the timestamps
    themselves (the feedback statistics count readers by them).
    """
    if not life_cycle:
        fields.setdefault("confirmed_at", timezone.now() - datetime.timedelta(days=30))
        reader = Subscriber.objects.create(email=email, status=status, **fields)
        if categories:
            reader.categories.set(categories)
        return reader

    from digests.readers.status import subscriber_transition

    reader = Subscriber.objects.create(email=email, **fields)
    reader.categories.set(categories)
    if status != Subscriber.Status.PENDING:
        if status in (Subscriber.Status.UNSUBSCRIBED,):
            subscriber_transition(reader, to=Subscriber.Status.ACTIVE)
        subscriber_transition(reader, to=status)
    return reader


def make_readers(n: int, *, categories, digest_categories, seed: int = 7):
    """``n`` readers: most active with overlapping category sets, some pending, unsubscribed, or off-topic.

    Returns the set of addresses that must receive the digest exactly once.
    """
    rng = random.Random(seed)
    S = Subscriber.Status
    through = Subscriber.categories.through
    zones = ["", "Asia/Shanghai", "Europe/Berlin", "America/New_York"]
    subscribers, picks = [], []
    for i in range(n):
        roll = rng.random()
        status = S.PENDING if roll < 0.05 else S.UNSUBSCRIBED if roll < 0.10 else S.ACTIVE
        if rng.random() < 0.1:
            chosen = []  # no choice: every category
        elif rng.random() < 0.08:
            chosen = [c for c in categories if c.pk not in digest_categories]  # nothing in today's digest
        else:
            chosen = rng.sample(categories, rng.randint(1, min(3, len(categories))))
        subscribers.append(Subscriber(email=f"reader{i}@example.org", status=status, timezone=rng.choice(zones)))
        picks.append(chosen)
    created = Subscriber.objects.bulk_create(subscribers, batch_size=1000)
    through.objects.bulk_create(
        [through(subscriber_id=s.pk, category_id=c.pk) for s, chosen in zip(created, picks, strict=True) for c in chosen],
        batch_size=2000,
    )
    eligible = set()
    for s, chosen in zip(created, picks, strict=True):
        if s.status != S.ACTIVE:
            continue
        if not chosen or any(c.pk in digest_categories for c in chosen):
            eligible.add(s.email)
    return eligible
