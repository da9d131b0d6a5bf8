"""Spec for who may reach the editorial admin and what each group may do there."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from digests.models import Digest
from tests.helpers.digest_files import SEED_PATH

pytestmark = pytest.mark.django_db


def digest_urls(digest: Digest) -> dict[str, str]:
    return {
        "list": reverse("admin:digests_digest_changelist"),
        "change": reverse("admin:digests_digest_change", args=[digest.pk]),
        "import": reverse("admin:digests_digest_import"),
        "preview": reverse("admin:digests_digest_preview", args=[digest.pk]),
        "export": reverse("admin:digests_digest_export", args=[digest.pk]),
    }


def staff(django_user_model, username: str, *codenames: str):
    user = django_user_model.objects.create_user(username=username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="digests", codename__in=codenames))
    return user


@pytest.mark.parametrize("page", ["list", "change", "import", "preview", "export"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, seed_digest, page):
    url = digest_urls(seed_digest)[page]

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", ["list", "import", "preview", "export"])
def test_users_who_are_not_staff_are_kept_out(client, django_user_model, seed_digest, page):
    reader = django_user_model.objects.create_user(username="reader", password="pw")
    reader.user_permissions.set(Permission.objects.filter(content_type__app_label="digests"))
    client.force_login(reader)

    response = client.get(digest_urls(seed_digest)[page])

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", ["import", "preview", "export"])
def test_staff_without_digest_permissions_get_403(client, django_user_model, seed_digest, page):
    client.force_login(staff(django_user_model, "nobody"))

    assert client.get(digest_urls(seed_digest)[page]).status_code == 403


def test_staff_without_view_permission_cannot_use_the_export_action(client, django_user_model, seed_digest):
    client.force_login(staff(django_user_model, "nobody"))

    response = client.post(digest_urls(seed_digest)["list"], {"action": "export_markdown", "_selected_action": [seed_digest.pk]})

    assert response.status_code == 403


def test_view_permission_allows_preview_and_export_but_not_import(client, django_user_model, seed_digest):
    client.force_login(staff(django_user_model, "viewer", "view_digest"))
    urls = digest_urls(seed_digest)

    assert client.get(urls["preview"]).status_code == 200
    assert client.get(urls["export"]).status_code == 200
    assert client.get(urls["import"]).status_code == 403
    assert client.post(urls["import"], {"file": SimpleUploadedFile("d.md", SEED_PATH.read_bytes())}).status_code == 403
    assert Digest.objects.count() == 1


def test_replacing_by_upload_also_needs_change_permission(client, django_user_model, seed_digest):
    client.force_login(staff(django_user_model, "adder", "add_digest", "view_digest"))

    response = client.post(
        digest_urls(seed_digest)["import"], {"file": SimpleUploadedFile("d.md", SEED_PATH.read_bytes()), "replace": "on"}
    )

    assert response.status_code == 403


def test_an_editor_can_import_preview_and_export(editor_client, seed_digest):
    urls = digest_urls(seed_digest)
    seed_digest.delete()

    imported = editor_client.post(urls["import"], {"file": SimpleUploadedFile("d.md", SEED_PATH.read_bytes())})
    digest = Digest.objects.get()
    urls = digest_urls(digest)

    assert imported.status_code == 302
    assert editor_client.get(urls["change"]).status_code == 200
    assert editor_client.get(urls["preview"]).status_code == 200
    assert editor_client.get(urls["export"]).status_code == 200


def test_an_editor_is_given_no_power_to_schedule_send_or_delete(editor, seed_digest):
    assert not editor.has_perm("digests.send_digest")
    assert not editor.has_perm("digests.delete_digest")


def test_the_editorial_admin_grants_nothing_beyond_the_users_permissions(editor_client, seed_digest):
    html = editor_client.get(digest_urls(seed_digest)["change"]).content.decode()

    assert 'name="scheduled_at_0"' not in html
    assert 'name="status"' not in html
    assert reverse("admin:digests_digest_delete", args=[seed_digest.pk]) not in html
