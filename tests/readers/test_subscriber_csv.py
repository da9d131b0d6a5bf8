"""Subscriber CSV import and export, from the command line and the shared service."""

import io
import re

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import translation

from digests.models import Consent, Subscriber
from digests.readers.csv_io import CsvImportError, subscribers_export, subscribers_import
from digests.readers.privacy import subscriber_erase
from tests.helpers.readers import make_reader

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
S = Subscriber.Status


GOOD_AND_BAD = (
    "email,name,categories,timezone,language\n"
    "alice@example.com,Alice,research|products,Europe/Berlin,en\n"  # 2 good
    "a@b,Bad Domain,,,\n"  # 3 no dot
    "bob@Example.COM,鲍勃,,,zh-hans\n"  # 4 good, all categories
    "no-at-sign,Nobody,,,\n"  # 5
    "carol@example.com,Carol,nonsense,,\n"  # 6 unknown category
    "dave@example.com,Dave,,Mars/Base,\n"  # 7 bad tz
    "erin@example.com,Erin,,,fr\n"  # 8 bad language
    '"frank@example.com","Frank\nBcc: x@example.org",,,\n'  # 9-10 line break in name
    "ALICE@example.com,Alice again,,,\n"  # 11 duplicate of line 2
    "user@例子.中国,用户,policy,,zh-hans\n"  # 12 good, IDN domain
    "用户@例子.中国,用户,policy,,zh-hans\n"  # 13 non-ASCII local part: undeliverable
)


def test_good_rows_are_imported_and_bad_rows_listed_with_line_and_reason(on_commit, categories):
    report = on_commit(subscribers_import, GOOD_AND_BAD.encode(), confirmed=False)
    assert [n.email for n in report.created] == ["alice@example.com", "bob@example.com", "user@xn--fsqu00a.xn--fiqs8s"]
    errors = {n.line: n.reason for n in report.errors}
    assert set(errors) == {3, 5, 6, 7, 8, 9, 13}
    assert "needs a dot" in errors[3]
    assert "exactly one @" in errors[5]
    assert "unknown category “nonsense”" in errors[6]
    assert "unknown time zone “Mars/Base”" in errors[7]
    assert "unknown language “fr”" in errors[8]
    assert "one line" in errors[9]
    assert "cannot deliver" in errors[13] and "“用户”" in errors[13]
    assert [(n.line, n.reason) for n in report.skipped] == [(11, "duplicate of line 2")]
    alice = Subscriber.objects.get(email="alice@example.com")
    assert alice.status == S.PENDING and alice.source == Subscriber.Source.IMPORT
    assert alice.timezone == "Europe/Berlin" and alice.language == "en"
    assert set(alice.categories.values_list("slug", flat=True)) == {"research", "products"}
    bob = Subscriber.objects.get(email="bob@example.com")
    assert bob.categories.count() == 3 and bob.name == "鲍勃"
    # Without --confirmed everyone imported gets a confirmation email.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(n.email for n in report.created)
    assert report.confirmations == 3


def test_a_bom_is_accepted(on_commit, categories):
    data = "\ufeffemail,name,categories\nbom@example.com,有 BOM,research\n".encode()
    report = on_commit(subscribers_import, data)
    assert [n.email for n in report.created] == ["bom@example.com"] and not report.errors
    assert Subscriber.objects.get().name == "有 BOM"


def test_crlf_line_endings_and_missing_optional_columns_are_fine(on_commit, categories):
    report = on_commit(subscribers_import, b"email\r\nx@example.com\r\n\r\ny@example.com\r\n")
    assert len(report.created) == 2 and not report.errors


def test_confirmed_rows_are_active_with_a_consent_record_and_get_no_email(on_commit, categories):
    report = on_commit(subscribers_import, b"email,name\nopted@example.com,Opted\n", confirmed=True)
    reader = Subscriber.objects.get()
    assert reader.status == S.ACTIVE and reader.confirmed_at is not None
    assert Consent.objects.get(subscriber=reader).form == "import"
    assert mail.outbox == [] and report.confirmations == 0


def test_re_running_the_same_file_changes_nothing(on_commit, categories):
    on_commit(subscribers_import, GOOD_AND_BAD.encode(), confirmed=True)
    before = list(Subscriber.objects.order_by("pk").values())
    again = on_commit(subscribers_import, GOOD_AND_BAD.encode(), confirmed=True)
    assert again.created == []
    assert {n.reason for n in again.skipped} >= {"already on the list (Active)"}
    assert list(Subscriber.objects.order_by("pk").values()) == before


def test_an_unsubscribed_or_suppressed_address_is_never_reactivated(on_commit, categories):
    gone = make_reader("gone@example.com", status=S.UNSUBSCRIBED)
    make_reader("bounced@example.com", status=S.BOUNCED)
    subscriber_erase(make_reader("erased@example.com"))
    data = b"email\ngone@example.com\nBOUNCED@example.com\nerased@EXAMPLE.com\n"
    report = on_commit(subscribers_import, data, confirmed=True)
    assert report.created == []
    reasons = {n.email: n.reason for n in report.skipped}
    assert reasons["gone@example.com"] == "already on the list (Unsubscribed)"
    assert reasons["BOUNCED@example.com"] == "already on the list (Bounced)"
    assert reasons["erased@example.com"].startswith("suppressed")
    gone.refresh_from_db()
    assert gone.status == S.UNSUBSCRIBED
    assert not Subscriber.objects.filter(email__iexact="erased@example.com").exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty"),
        (b"name,categories\nx,y\n", "no “email” column"),
        (b"email\nlatin1@example.com,\n" + b"caf\xe9@example.com\n", "not UTF-8 text (first bad byte on line 3)"),
    ],
)
def test_an_unreadable_file_is_refused_as_a_whole(categories, data, message):
    with pytest.raises(CsvImportError, match=re.escape(message)):
        subscribers_import(data)
    assert not Subscriber.objects.exists()


def test_too_many_fields_in_a_row_is_an_error(categories):
    report = subscribers_import(b"email,name\nx@example.com,X,extra\n")
    assert report.errors[0].line == 2 and "3 fields" in report.errors[0].reason


def test_the_export_has_the_import_columns_and_round_trips(on_commit, categories, tmp_path):
    make_reader("one@example.com", name="一号", categories=categories[:2], timezone="Asia/Tokyo", language="zh-hans")
    make_reader("=cmd@example.com", name='=HYPERLINK("http://evil")', categories=[categories[2]], language="en")
    buffer = io.StringIO()
    assert subscribers_export(Subscriber.objects.all(), buffer) == 2
    text = buffer.getvalue()
    assert text.startswith("\ufeffemail,name,categories,timezone,language,frequency,weekly_day\r\n")
    assert "one@example.com,一号,research|products,Asia/Tokyo,zh-hans,daily,sat" in text
    assert "'=HYPERLINK" in text  # a spreadsheet must not run it as a formula
    Subscriber.objects.all().delete()
    report = on_commit(subscribers_import, text.encode(), confirmed=True)
    assert len(report.created) == 2 and not report.errors
    assert Subscriber.objects.get(email="=cmd@example.com").name == '=HYPERLINK("http://evil")'
    one = Subscriber.objects.get(email="one@example.com")
    assert one.timezone == "Asia/Tokyo" and set(one.categories.all()) == set(categories[:2])


def test_the_import_command_reports_rows_and_fails_when_some_are_bad(categories, tmp_path, eager_celery):
    path = tmp_path / "readers.csv"
    path.write_bytes(("\ufeff" + GOOD_AND_BAD).encode())
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="7 rows could not be imported"):
        call_command("import_subscribers", str(path), "--confirmed", stdout=out, stderr=err)
    assert "3 imported, 1 skipped, 7 with errors" in out.getvalue()
    assert f"{path}: line 3: a@b:" in err.getvalue()
    assert f"{path}: line 13: 用户@例子.中国: We cannot deliver to an address" in err.getvalue()
    assert Subscriber.objects.filter(status=S.ACTIVE).count() == 3


def test_the_import_command_without_confirmed_queues_confirmations(categories, tmp_path, eager_celery):
    path = tmp_path / "ok.csv"
    path.write_text("email\nq@example.com\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import_subscribers", str(path), stdout=out)
    assert "1 imported" in out.getvalue()
    assert Subscriber.objects.get().status == S.PENDING


def test_the_import_command_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="missing.csv"):
        call_command("import_subscribers", str(tmp_path / "missing.csv"))


def test_the_export_command_writes_active_readers_by_default(categories, tmp_path):
    make_reader("on@example.com", categories=categories[:1])
    make_reader("off@example.com", status=S.UNSUBSCRIBED)
    out = io.StringIO()
    call_command("export_subscribers", stdout=out)
    assert "on@example.com,,research,," in out.getvalue() and "off@example.com" not in out.getvalue()
    target = tmp_path / "all.csv"
    call_command("export_subscribers", "--all", "--output", str(target), stderr=io.StringIO())
    written = target.read_text(encoding="utf-8-sig")
    assert "on@example.com" in written and "off@example.com" in written


def test_reports_are_in_the_site_language(categories):
    with translation.override("zh-hans"):
        report = subscribers_import(b"email\nbroken\n")
        assert str(report.errors[0]) == "第 2 行：broken：请输入恰好包含一个 @ 的地址，例如 name@example.com。"
