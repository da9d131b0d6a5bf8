"""The laptop default: outgoing mail lands as .eml files in var/outbox/."""

import email
import email.policy

from django.core.mail import EmailMultiAlternatives

from digests.mail import mail_connection


def test_each_message_becomes_one_readable_eml_file(settings, tmp_path):
    settings.MAIL_CONNECTIONS = {"bulk": {"backend": "digests.mail.outbox.EmailBackend", "file_path": str(tmp_path)}}
    message = EmailMultiAlternatives("AI 行业动态 (2026-02-06)", "正文", "AI 行业动态 <digest@example.com>", ["读者@example.com"])
    message.attach_alternative("<p>正文</p>", "text/html")
    with mail_connection("bulk") as connection:
        assert connection.send_messages([message, message]) == 2

    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    assert not list(tmp_path.glob(".*.tmp"))
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "AI 行业动态 (2026-02-06)"
    assert parsed.get_body(("plain",)).get_content().strip() == "正文"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>正文</p>"
