"""The frequency and weekly_day columns of import_subscribers and export_subscribers (and the admin's CSV upload)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from digests.models import FrequencyChange, Subscriber
from digests.readers.csv_io import subscribers_export, subscribers_import
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

FILE = (
    "email,name,frequency,weekly_day\n"
    "weekly@example.com,W,weekly,sun\n"  # 2
    "both@example.com,B,BOTH,Mon\n"  # 3: any case
    "chinese@example.com,中,weekly,周三\n"  # 4: 周一 … 周日 too
    "plain@example.com,P,,\n"  # 5: empty cells mean daily and Saturday
    "monthly@example.com,M,monthly,\n"  # 6
    "someday@example.com,S,weekly,someday\n"  # 7
)


def frequencies():
    return dict(Subscriber.objects.values_list("email", "frequency"))


def test_the_columns_set_new_readers_frequency_and_weekday(on_commit, categories):
    report = on_commit(subscribers_import, FILE.encode(), confirmed=True)
    assert [n.email for n in report.created] == [
        "weekly@example.com",
        "both@example.com",
        "chinese@example.com",
        "plain@example.com",
    ]
    got = {s.email: (s.frequency, s.weekly_day) for s in Subscriber.objects.all()}
    assert got == {
        "weekly@example.com": ("weekly", "sun"),
        "both@example.com": ("both", "mon"),
        "chinese@example.com": ("weekly", "wed"),
        "plain@example.com": ("daily", "sat"),
    }
    # A new reader's first choice is not a move.
    assert not FrequencyChange.objects.exists()


def test_a_bad_value_is_an_error_naming_the_line_and_the_column(on_commit, categories):
    report = on_commit(subscribers_import, FILE.encode(), confirmed=True)
    errors = {n.line: str(n) for n in report.errors}
    assert set(errors) == {6, 7}
    assert errors[6] == "line 6: monthly@example.com: column frequency: unknown frequency “monthly” (use daily, weekly or both)"
    assert "line 7: someday@example.com: column weekly_day: unknown weekday “someday”" in errors[7]
    assert "monthly@example.com" not in frequencies() and "someday@example.com" not in frequencies()


def test_without_the_columns_readers_are_daily_on_saturday_and_existing_readers_are_left_alone(on_commit, categories):
    existing = make_reader("old@example.com", frequency="weekly", weekly_day="tue")
    on_commit(subscribers_import, b"email,name\nnew@example.com,N\nold@example.com,O\n", confirmed=True)
    assert Subscriber.objects.values_list("frequency", "weekly_day").get(email="new@example.com") == ("daily", "sat")
    # An import never edits a reader who is already on the list, even when the file says otherwise.
    on_commit(subscribers_import, b"email,frequency,weekly_day\nold@example.com,daily,fri\n", confirmed=True)
    existing.refresh_from_db()
    assert (existing.frequency, existing.weekly_day) == ("weekly", "tue")


def test_running_the_same_file_twice_changes_nothing(on_commit, categories):
    on_commit(subscribers_import, FILE.encode(), confirmed=True)
    before = {s.email: (s.frequency, s.weekly_day, s.updated_at) for s in Subscriber.objects.all()}
    again = on_commit(subscribers_import, FILE.encode(), confirmed=True)
    assert not again.created and len(again.skipped) == 4
    assert {s.email: (s.frequency, s.weekly_day, s.updated_at) for s in Subscriber.objects.all()} == before


def test_the_export_writes_both_columns_and_round_trips(on_commit, categories):
    make_reader("w@example.com", frequency="weekly", weekly_day="sun")
    make_reader("b@example.com", frequency="both", weekly_day="thu")
    buffer = io.StringIO()
    subscribers_export(Subscriber.objects.all(), buffer)
    lines = buffer.getvalue().lstrip("\ufeff").splitlines()
    assert lines[0] == "email,name,categories,timezone,language,frequency,weekly_day"
    assert lines[1].endswith(",weekly,sun") and lines[2].endswith(",both,thu")
    Subscriber.objects.all().delete()
    on_commit(subscribers_import, buffer.getvalue().encode(), confirmed=True)
    assert set(Subscriber.objects.values_list("email", "frequency", "weekly_day")) == {
        ("w@example.com", "weekly", "sun"),
        ("b@example.com", "both", "thu"),
    }


def test_the_commands_read_and_write_the_columns(on_commit, categories, tmp_path):
    path = tmp_path / "readers.csv"
    path.write_text(FILE, encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError):  # two bad rows: a non-zero exit
        on_commit(call_command, "import_subscribers", str(path), "--confirmed", stdout=io.StringIO(), stderr=err)
    assert "line 6: monthly@example.com: column frequency" in err.getvalue()
    out = io.StringIO()
    call_command("export_subscribers", stdout=out)
    assert "weekly@example.com,W,research|products|policy,,zh-hans,weekly,sun" in out.getvalue()


def test_the_admin_upload_reports_a_bad_column_too(client, django_user_model, categories, on_commit, settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    client.force_login(django_user_model.objects.create_superuser("boss", "boss@example.com", "pw"))
    upload = SimpleUploadedFile("r.csv", FILE.encode(), content_type="text/csv")
    response = on_commit(client.post, "/admin/digests/subscriber/import/", {"file": upload}, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert "column frequency: unknown frequency “monthly”" in body
    assert frequencies()["weekly@example.com"] == "weekly"
