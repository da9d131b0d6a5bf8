import json

from django.core.management.base import BaseCommand, CommandError

from digests.ops.health import health_report

COMPONENTS = ("database", "broker", "cache", "beat")


class Command(BaseCommand):
    help = "Print the health report as JSON; exit 1 if unhealthy (or if a component named by --only is)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            default="",
            help=f"Comma-separated components that decide the exit status: {', '.join(COMPONENTS)}.",
        )

    def handle(self, *args, only, **options):
        wanted = [name.strip() for name in only.split(",") if name.strip()]
        unknown = sorted(set(wanted) - set(COMPONENTS))
        if unknown:
            raise CommandError(f"--only: unknown component(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}")
        report = health_report()
        self.stdout.write(json.dumps(report, ensure_ascii=False))
        if wanted:
            failing = [name for name in wanted if report[name] in ("error", "stale")]
        else:
            failing = [] if report["healthy"] else ["stack"]
        if failing:
            raise CommandError(f"unhealthy: {', '.join(failing)}", returncode=1)
