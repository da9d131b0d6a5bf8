from django.core.management.base import BaseCommand

from digests.bench.subscribers import import_bench


class Command(BaseCommand):
    help = "Benchmark import_subscribers: N synthetic readers imported, next to the same rows bulk-inserted (the floor)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=20000)

    def handle(self, *args, rows: int, **options):
        self.stdout.write(str(import_bench(rows)))
