"""Fixtures shared by the reader flow tests (imported by each test module)."""

import re

import pytest

from digests.models import Category, Subscriber

CSRF_INPUT = re.compile(rb'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]*">')


def without_csrf(body: bytes) -> bytes:
    return CSRF_INPUT.sub(b"", body)


@pytest.fixture
def categories(db):
    return [
        Category.objects.create(name="模型与研究", slug="research", position=1),
        Category.objects.create(name="产品", slug="products", position=2),
        Category.objects.create(name="政策与监管", slug="policy", position=3),
    ]


@pytest.fixture
def eager_celery():
    """Tasks run in-process when queued, so their mail lands in django.core.mail.outbox."""
    from newsletter.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks, eager_celery):
    """Run on_commit callbacks (the queued confirmation tasks) as a real commit would."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def make_reader(email="reader@example.com", status=Subscriber.Status.ACTIVE, categories=(), **fields):
    from digests.readers.status import subscriber_transition

    reader = Subscriber.objects.create(email=email, **fields)
    reader.categories.set(categories)
    if status != Subscriber.Status.PENDING:
        if status in (Subscriber.Status.UNSUBSCRIBED,):
            subscriber_transition(reader, to=Subscriber.Status.ACTIVE)
        subscriber_transition(reader, to=status)
    return reader
