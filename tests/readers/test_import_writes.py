"""What a list import writes, row for row the same on PostgreSQL's one-statement path and the portable one.

The PostgreSQL path writes a chunk in one statement of its own SQL; the portable
path (SQLite on a laptop) uses the ORM. Both are run here on the same
PostgreSQL data (the portable one by presenting the connection as another
vendor), and both must leave what creating each reader through the ORM would.
"""

import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from digests.models import Consent, Subscriber, TransactionalEmail, WebhookEndpoint, WebhookEvent
from digests.readers.csv_io import subscribers_import
from digests.readers.insert_parts import insert_parts
from digests.readers.privacy import subscriber_erase
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.usefixtures("english")]
S = Subscriber.Status
PATHS = ["one statement", "portable"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    if request.param == "one statement" and connection.vendor != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")
    if request.param == "portable":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    return request.param


ROWS = (
    "email,name,categories,timezone,language,frequency,weekly_day\n"
    "ada@example.org,Ada,research|research|policy,Asia/Tokyo,en,both,周三\n"
    "bo@例子.中国,博,,,,,\n"
)


@pytest.mark.django_db
def test_a_confirmed_reader_is_written_as_the_orm_would_write_them(path, categories, on_commit):
    before = timezone.now()
    report = on_commit(subscribers_import, ROWS.encode(), confirmed=True)
    assert [(n.line, n.email, n.reason) for n in report.created] == [
        (2, "ada@example.org", S.ACTIVE),
        (3, "bo@xn--fsqu00a.xn--fiqs8s", S.ACTIVE),
    ]
    ada = Subscriber.objects.get(email="ada@example.org")
    template = Subscriber(email="x@example.org")  # every column the import does not set: the model's defaults
    assert (ada.name, ada.timezone, ada.language, ada.frequency, ada.weekly_day) == ("Ada", "Asia/Tokyo", "en", "both", "wed")
    assert (ada.status, ada.source) == (S.ACTIVE, Subscriber.Source.IMPORT)
    assert before <= ada.created_at <= timezone.now() and ada.confirmed_at is not None and ada.updated_at is not None
    assert (ada.soft_bounces, ada.suppression_reason, ada.unsubscribed_at, ada.suppressed_at) == (
        template.soft_bounces,
        template.suppression_reason,
        None,
        None,
    )
    assert ada.confirmation_sent_at is None and ada.welcome_sent_at is None
    # A category named twice is one choice; an empty cell means every active category.
    assert set(ada.categories.values_list("slug", flat=True)) == {"research", "policy"}
    bo = Subscriber.objects.get(email="bo@xn--fsqu00a.xn--fiqs8s")
    assert (bo.language, bo.frequency, bo.weekly_day) == ("zh-hans", "daily", "sat")
    assert bo.categories.count() == len(categories)
    # Each reader has a key of their own (their links are signed with it) and one consent record.
    assert ada.key != bo.key
    consents = Consent.objects.filter(subscriber__in=[ada, bo])
    assert sorted(c.subscriber_id for c in consents) == sorted([ada.pk, bo.pk])
    assert {(c.form, c.ip_hash) for c in consents} == {("import", "")} and all(c.created_at >= before for c in consents)


@pytest.mark.django_db
def test_a_reader_imported_unconfirmed_is_pending_stamped_and_owed_one_confirmation(path, categories, on_commit):
    report = on_commit(subscribers_import, ROWS.encode(), confirmed=False)
    assert report.confirmations == 2
    readers = Subscriber.objects.filter(email__in=[n.email for n in report.created])
    assert {r.status for r in readers} == {S.PENDING}
    assert all(r.confirmation_sent_at is not None and r.confirmed_at is None for r in readers)
    assert not Consent.objects.exists()
    owed = TransactionalEmail.objects.filter(kind=TransactionalEmail.Kind.CONFIRMATION)
    assert sorted(owed.values_list("subscriber_id", flat=True)) == sorted(r.pk for r in readers)


@pytest.mark.django_db
def test_addresses_already_on_the_list_or_suppressed_are_reported_and_left_alone(path, categories, on_commit):
    kept = make_reader("Kept@Example.org", status=S.UNSUBSCRIBED, name="Kept")
    subscriber_erase(make_reader("erased@example.org"))
    data = b"email,name\nkept@example.org,New name\nERASED@example.org,Back\nfresh@example.org,Fresh\n"
    report = on_commit(subscribers_import, data, confirmed=True)
    assert [n.email for n in report.created] == ["fresh@example.org"]
    assert [(n.line, n.reason) for n in report.skipped] == [
        (2, "already on the list (Unsubscribed)"),
        (3, "suppressed (erased or blocked address)"),
    ]
    kept.refresh_from_db()
    assert (kept.email, kept.name, kept.status) == ("Kept@Example.org", "Kept", S.UNSUBSCRIBED)
    assert not Subscriber.objects.filter(email__iexact="erased@example.org").exists()


@pytest.mark.django_db
def test_readers_imported_confirmed_are_announced_to_webhooks_one_event_each(path, categories, on_commit):
    WebhookEndpoint.objects.create(
        url="https://hooks.example.org/in", secret="whsec_" + "A" * 32, event_types=["subscriber.confirmed"]
    )
    report = on_commit(subscribers_import, ROWS.encode(), confirmed=True)
    events = WebhookEvent.objects.filter(event_type="subscriber.confirmed")
    keys = {str(k) for k in Subscriber.objects.filter(email__in=[n.email for n in report.created]).values_list("key", flat=True)}
    assert {e.payload["data"]["id"] for e in events} == keys and events.count() == 2
    assert {e.payload["data"]["status"] for e in events} == {S.ACTIVE}


@pytest.mark.django_db(transaction=True)
def test_a_signup_committed_while_the_chunk_is_written_sends_that_row_alone_and_the_rest_goes_in(path, categories):
    """Another connection has written one of the file's addresses but not committed when the import
    writes it: the chunk waits on that row, fails once it commits, and goes again one row at a time.
    (Both paths look the address up first, where the uncommitted row is invisible.)"""
    other = connections.create_connection("default")
    other.inc_thread_sharing()  # committed from the watcher thread
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '30s'")  # should the commit never come, fail rather than hang
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
        racer = _insert_uncommitted(other, "racer@example.org")
        blocked = []

        def commit_once_the_import_waits():
            blocked.append(_wait_until_blocked_by(other))
            with other.cursor() as cursor:
                cursor.execute("COMMIT")

        watcher = threading.Thread(target=commit_once_the_import_waits)
        watcher.start()
        report = subscribers_import(b"email\nfirst@example.org\nracer@example.org\nlast@example.org\n", confirmed=True)
        watcher.join(30)
    finally:
        other.dec_thread_sharing()
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert blocked == [True], "the import's insert waited for the signup's transaction"
    assert [note.email for note in report.created] == ["first@example.org", "last@example.org"]
    assert [(note.line, note.email, note.reason) for note in report.skipped] == [
        (3, "racer@example.org", "already on the list (Pending confirmation)")
    ]
    assert Subscriber.objects.get(email="racer@example.org").pk == racer
    assert Subscriber.objects.filter(email__in=["first@example.org", "last@example.org"], status=S.ACTIVE).count() == 2


def _insert_uncommitted(other, email: str) -> int:
    """A reader as a signup would write them, inserted on ``other`` and not committed."""
    columns, values, params = insert_parts(Subscriber(email=email, status=S.PENDING))
    with other.cursor() as cursor:
        cursor.execute(f"INSERT INTO digests_subscriber ({columns}) VALUES ({values}) RETURNING id", params)
        return cursor.fetchone()[0]


def _wait_until_blocked_by(other, timeout: float = 20) -> bool:
    """Until some backend waits on a lock held by ``other``'s backend."""
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    watcher = connections.create_connection("default")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with watcher.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid])
                if cursor.fetchone()[0]:
                    return True
            time.sleep(0.02)
        return False
    finally:
        watcher.close()
