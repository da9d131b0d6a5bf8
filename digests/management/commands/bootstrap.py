import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from digests.content.digest_format import digest_parse
from digests.content.services import digest_import
from digests.models import Category, Digest

DEMO_READERS = [
    ("reader.zh@example.com", "王读者", "zh-hans"),
    ("reader.en@example.com", "Demo Reader", "en"),
    # 读者@例子.中国 cannot travel without SMTPUTF8; an IDN domain can, stored as punycode.
    ("reader@xn--fsqu00a.xn--fiqs8s", "", "zh-hans"),
]
DEMO_DIGEST = Path(__file__).resolve().parents[2] / "fixtures" / "ai-digest-2026-02-06.md"


class Command(BaseCommand):
    help = "Load the demo digest into an empty database and create the admin user (once)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
        parser.add_argument("--email", default=os.environ.get("ADMIN_EMAIL", "admin@newsletter.localhost"))

    @transaction.atomic
    def handle(self, *args, username, email, **options):
        if Digest.objects.exists() or Category.objects.exists():
            self.stdout.write("Database already has content; demo data not loaded.")
        else:
            digest = digest_import(digest_parse(DEMO_DIGEST.read_bytes()))
            self.stdout.write(self.style.SUCCESS(f"Loaded demo digest {digest} with {digest.items.count()} items."))
            self._demo_readers()

        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} already exists.")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=email, password=password)
        shown = "(from ADMIN_PASSWORD)" if os.environ.get("ADMIN_PASSWORD") else password
        self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r} with password: {shown}"))
        self.stdout.write("This password is shown only once: http://127.0.0.1:8000/admin/")

    def _demo_readers(self):
        from digests.models import Subscriber
        from digests.readers.status import subscriber_transition

        if Subscriber.objects.exists():
            return
        categories = list(Category.objects.filter(is_active=True))
        for email, name, language in DEMO_READERS:
            reader = Subscriber.objects.create(email=email, name=name, language=language, source=Subscriber.Source.ADMIN)
            reader.categories.set(categories)
            subscriber_transition(reader, to=Subscriber.Status.ACTIVE)
        self.stdout.write(self.style.SUCCESS(f"Added {len(DEMO_READERS)} demo subscribers."))
