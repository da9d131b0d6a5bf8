from django.core.management.base import BaseCommand, CommandError

from digests.apikeys import UnknownScope, api_key_create
from digests.models.automation import SCOPES


class Command(BaseCommand):
    help = "Create an API key for a pipeline and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the key, e.g. morning-pipeline.")
        parser.add_argument("--scopes", required=True, help=f"Comma-separated, from: {', '.join(SCOPES)}.")

    def handle(self, *args, name: str, scopes: str, **options):
        try:
            key, secret = api_key_create(name=name, scopes=scopes.split(","))
        except UnknownScope as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Created API key {key.prefix} “{key.name}” with scopes {', '.join(key.scopes)}.")
        self.stderr.write("Store it now: it is shown only this once.")
        self.stdout.write(secret)
