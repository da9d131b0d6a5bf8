"""The subscriber admin: list, search, filters, actions, CSV upload and download."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from digests.models import Subscriber, Suppression
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db
S = Subscriber.Status
LIST = "/admin/digests/subscriber/"


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Admin pages link static files; the manifest only exists after collectstatic."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def readers(categories):
    return {
        "active": make_reader("active@example.com", categories=categories[:1], source=Subscriber.Source.SIGNUP),
        "pending": make_reader("pending@example.com", status=S.PENDING, categories=categories[1:2]),
        "gone": make_reader("gone@example.com", status=S.UNSUBSCRIBED, categories=categories),
        "idn": make_reader("user@xn--fsqu00a.xn--fiqs8s", categories=categories[2:]),
    }


def test_the_list_shows_status_categories_source_and_dates(admin_client, readers):
    response = admin_client.get(LIST, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    for address in ("active@example.com", "pending@example.com", "gone@example.com"):
        assert address in body
    assert "模型与研究" in body and "Unsubscribed" in body and "Signup form" in body
    assert "Import CSV" in body and "Export CSV" in body


def test_search_by_address_including_unicode_domains(admin_client, readers):
    body = admin_client.get(LIST, {"q": "pending@"}).content.decode()
    assert "pending@example.com" in body and "active@example.com" not in body
    body = admin_client.get(LIST, {"q": "user@例子.中国"}).content.decode()
    assert "user@xn--fsqu00a.xn--fiqs8s" in body and "pending@example.com" not in body


def test_filters_by_status_and_category(admin_client, readers, categories):
    body = admin_client.get(LIST, {"status__exact": "unsubscribed"}).content.decode()
    assert "gone@example.com" in body and "active@example.com" not in body
    body = admin_client.get(LIST, {"categories__id__exact": categories[1].pk}).content.decode()
    assert "pending@example.com" in body and "gone@example.com" in body and "active@example.com" not in body


def action(admin_client, name, readers_, **extra):
    return admin_client.post(LIST, {"action": name, "_selected_action": [r.pk for r in readers_], **extra})


def test_the_unsubscribe_action_goes_through_the_life_cycle(admin_client, readers):
    action(admin_client, "unsubscribe_selected", [readers["active"], readers["pending"]])
    for key in ("active", "pending"):
        readers[key].refresh_from_db()
        assert readers[key].status == S.UNSUBSCRIBED and readers[key].unsubscribed_at


def test_the_delete_action_deletes(admin_client, readers):
    action(admin_client, "delete_selected", [readers["gone"]], post="yes")
    assert not Subscriber.objects.filter(email="gone@example.com").exists()


def test_the_erase_action_asks_first_then_keeps_only_a_hash(admin_client, readers):
    response = action(admin_client, "erase_selected", [readers["active"]])
    assert response.status_code == 200 and "cannot be undone" in response.content.decode()
    assert Subscriber.objects.filter(email="active@example.com").exists()
    action(admin_client, "erase_selected", [readers["active"]], post="yes")
    assert not Subscriber.objects.filter(email="active@example.com").exists()
    assert Suppression.objects.filter(reason="erased").count() == 1


def test_the_confirmation_action_mails_pending_readers_only(
    admin_client, readers, django_capture_on_commit_callbacks, eager_celery
):
    with django_capture_on_commit_callbacks(execute=True):
        action(admin_client, "send_confirmation", [readers["pending"], readers["active"], readers["gone"]])
    assert [m.to for m in mail.outbox] == [["pending@example.com"]]


def test_the_status_cannot_be_edited_directly(admin_client, readers):
    response = admin_client.get(f"{LIST}{readers['active'].pk}/change/")
    assert 'name="status"' not in response.content.decode()


def test_adding_a_subscriber_normalises_the_address_and_refuses_duplicates(admin_client, readers, categories):
    response = admin_client.post(
        f"{LIST}add/",
        {
            "email": "New@Example.COM",
            "name": "",
            "categories": [categories[0].pk],
            "timezone": "",
            "language": "en",
            "frequency": "daily",
            "weekly_day": "sat",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    added = Subscriber.objects.get(email="New@example.com")
    assert added.source == Subscriber.Source.ADMIN and added.status == S.PENDING
    response = admin_client.post(
        f"{LIST}add/",
        {
            "email": "ACTIVE@example.com",
            "categories": [categories[0].pk],
            "timezone": "",
            "language": "en",
            "frequency": "daily",
            "weekly_day": "sat",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200 and "already exists" in response.content.decode()


def test_the_admin_refuses_to_add_an_address_it_cannot_deliver_to(admin_client, categories):
    response = admin_client.post(
        f"{LIST}add/",
        {
            "email": "用户@例子.中国",
            "categories": [categories[0].pk],
            "timezone": "",
            "language": "en",
            "frequency": "daily",
            "weekly_day": "sat",
            "consents-TOTAL_FORMS": "0",
            "consents-INITIAL_FORMS": "0",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200 and "We cannot deliver to an address" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_csv_upload_imports_and_lists_bad_rows(admin_client, categories, django_capture_on_commit_callbacks, eager_celery):
    upload = SimpleUploadedFile(
        "readers.csv", "\ufeffemail,name,categories\nok@example.com,好,research\nbroken,Bad,\n".encode(), content_type="text/csv"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{LIST}import/", {"file": upload}, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert "1 imported, 0 skipped, 1 with errors" in body
    assert "<td>3</td><td>broken</td>" in body and "exactly one @" in body
    assert Subscriber.objects.get().status == S.PENDING
    assert len(mail.outbox) == 1


def test_csv_upload_can_mark_rows_confirmed(admin_client, categories):
    upload = SimpleUploadedFile("r.csv", b"email\nyes@example.com\n", content_type="text/csv")
    admin_client.post(f"{LIST}import/", {"file": upload, "confirmed": "on"})
    assert Subscriber.objects.get().status == S.ACTIVE


def test_csv_upload_refuses_an_unreadable_file_with_a_message(admin_client, categories):
    upload = SimpleUploadedFile("r.csv", b"\xff\xfee\x00m\x00", content_type="text/csv")
    body = admin_client.post(f"{LIST}import/", {"file": upload}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "not UTF-8" in body and not Subscriber.objects.exists()


def test_csv_download_follows_the_list_filters(admin_client, readers):
    response = admin_client.get(f"{LIST}export/", {"status__exact": "active"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "email,name,categories,timezone,language,frequency,weekly_day"
    assert "active@example.com" in text and "gone@example.com" not in text


def test_the_export_action_downloads_the_selection(admin_client, readers):
    response = action(admin_client, "export_selected", [readers["gone"]])
    text = response.content.decode("utf-8-sig")
    assert "gone@example.com,,research|products|policy,," in text and "active@example.com" not in text


def test_an_editor_without_permissions_cannot_import(client, django_user_model, categories):
    user = django_user_model.objects.create_user("nobody", password="pw", is_staff=True)
    client.force_login(user)
    upload = SimpleUploadedFile("r.csv", b"email\nsneaky@example.com\n", content_type="text/csv")
    assert client.post(f"{LIST}import/", {"file": upload}).status_code == 403
    assert client.get(f"{LIST}export/").status_code == 403
    assert not Subscriber.objects.exists()


def test_the_subscriber_page_says_why_and_when_a_reader_was_suppressed(admin_client):
    from digests.readers.status import subscriber_transition

    reader = Subscriber.objects.create(email="gone@example.com", status=Subscriber.Status.ACTIVE)
    subscriber_transition(reader, to=Subscriber.Status.BOUNCED, reason="550 5.1.1 mailbox does not exist")
    page = admin_client.get(reverse("admin:digests_subscriber_change", args=[reader.pk]))
    assert page.status_code == 200
    assert "550 5.1.1 mailbox does not exist" in page.content.decode()
    changelist = admin_client.get(reverse("admin:digests_subscriber_changelist"))
    assert "lift_bounce_suppression" in changelist.content.decode()


def test_admin_actions_are_written_to_the_admin_history(admin_client, readers):
    from django.contrib.admin.models import LogEntry

    action(admin_client, "unsubscribe_selected", [readers["active"]])
    entry = LogEntry.objects.get(object_id=str(readers["active"].pk))
    assert entry.is_change() and entry.user.is_superuser


def test_erasing_also_removes_the_address_from_the_admin_history(admin_client, readers):
    from django.contrib.admin.models import LogEntry

    reader = readers["active"]
    address = reader.email
    action(admin_client, "unsubscribe_selected", [reader])
    action(admin_client, "erase_selected", [reader], post="yes")
    entries = LogEntry.objects.filter(object_id=str(reader.pk))
    assert entries.count() == 2 and any(e.is_deletion() for e in entries)
    assert not LogEntry.objects.filter(object_repr__icontains=address).exists()
    assert not LogEntry.objects.filter(change_message__icontains=address).exists()


def test_a_large_upload_is_imported_in_the_background_with_its_progress_shown(
    admin_client, categories, django_capture_on_commit_callbacks, eager_celery
):
    from digests.models import SubscriberImport
    from digests.readers.imports import BACKGROUND_IMPORT_BYTES

    rows = ["email,name"] + [f"reader{n}@example.org,读者{n}" for n in range(9000)] + ["not-an-address,坏"]
    data = ("\n".join(rows) + "\n").encode()
    assert len(data) > BACKGROUND_IMPORT_BYTES
    upload = SimpleUploadedFile("big.csv", data, content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client.post(f"{LIST}import/", {"file": upload, "confirmed": "on"}, HTTP_ACCEPT_LANGUAGE="en")
    job = SubscriberImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{LIST}import/{job.pk}/"
    waiting = admin_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "being imported in the background" in waiting and 'http-equiv="refresh"' in waiting
    assert not Subscriber.objects.exists()

    for callback in queued:  # the worker picks the task up
        callback()
    job.refresh_from_db()
    assert job.status == "done" and job.processed == job.lines and job.data == b""
    assert Subscriber.objects.filter(status="active").count() == 9000
    done = admin_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "9000 imported, 0 skipped, 1 with errors" in done and "not-an-address" in done
    assert 'http-equiv="refresh"' not in done
