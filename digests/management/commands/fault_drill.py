"""Run one real send through a worker SIGKILL, a database and a Redis outage and SMTP 421/450/550; prove nothing was lost."""

from django.core.management.base import BaseCommand, CommandError

from digests.bench.drill import FULL, QUICK, DrillRefused, drill_run, machine


class Command(BaseCommand):
    help = (
        "The fault drill: N readers in a throwaway PostgreSQL database, a real Celery worker and beat, a local SMTP "
        "server; during one send it SIGKILLs the worker, terminates the database's backends, kills the clients of its Redis databases "
        "and pauses Redis, and has SMTP answer 421, 450 and 550. Exits non-zero if any reader was lost or doubled, any "
        "outcome is wrong, or the send did not complete within 60 s of the last fault. PostgreSQL and Redis must be on "
        "this machine and Redis must be yours alone: CLIENT PAUSE holds the whole server."
    )

    def add_arguments(self, parser):
        parser.add_argument("--readers", type=int, default=2000)
        parser.add_argument("--keep", action="store_true", help="Keep the throwaway database for inspection.")
        parser.add_argument(
            "--quick",
            action="store_true",
            help="The same faults, shorter: 1 s apart, Redis paused 1 s, SMTP 421 for 3 s, a send of about 12 s (the test suite's).",
        )

        parser.add_argument(
            "--template",
            metavar="DATABASE",
            help="Copy this migrated database, which must hold no readers or digests, instead of migrating a new one "
            "(CREATE DATABASE … TEMPLATE: nobody else may be connected to it). The test suite passes its test database.",
        )

    def handle(self, *args, readers: int, keep: bool, quick: bool, template: str | None, **options):
        if readers < 50:
            raise CommandError("--readers must be at least 50 (some of them are refused or deferred).")
        try:
            result = drill_run(
                readers=readers, keep=keep, pace=QUICK if quick else FULL, template=template, say=self.stdout.write
            )
        except DrillRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"\nFault drill on {machine()}: {readers:,} readers, {result.rate}/s, batches of {result.batch_size}\n")
        self.stdout.write(result.table())
        problems = result.problems
        if problems:
            raise CommandError("the fault drill failed:\n  " + "\n  ".join(problems))
        self.stdout.write(self.style.SUCCESS("\nEvery check passed."))
