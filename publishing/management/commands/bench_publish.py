"""Measure how fast and how exactly targets due at the same moment are published, on the real stack."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from publishing.benchmarks import RunOptions, WorkerOptions, run_benchmark


class Command(BaseCommand):
    help = (
        "Schedule N targets due in the same second across the emulated platforms and publish them with real "
        "Celery workers on PostgreSQL + Redis; print throughput, lateness p50/p95/p99/max, duplicates, lost and "
        "stuck. Needs DATABASE_URL (PostgreSQL; a database of its own, created and migrated if missing) and "
        "REDIS_URL. Exits non-zero when a target was duplicated, lost or stuck. See docs/BENCHMARKS.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--targets", type=int, default=1000, help="Targets due at once (default 1000).")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2).")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=4,
            help=(
                "Threads (or processes) per worker (default 4: against the local emulator a send is mostly CPU, "
                "and fewer threads per process contend less for the GIL; see docs/BENCHMARKS.md)."
            ),
        )
        parser.add_argument(
            "--pool", choices=["threads", "prefork"], default="threads", help="Celery pool (default threads)."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=600,
            help="Seconds after the due time before what is unsettled counts as stuck (default 600).",
        )
        parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
        parser.add_argument(
            "--shared-redis",
            action="store_true",
            help="Use REDIS_URL itself for the children instead of a private redis-server (budget windows persist).",
        )
        parser.add_argument("--keep-logs", action="store_true", help="Keep the processes' logs (kept on failure).")

    def handle(self, *args, **options):
        if options["targets"] < 1 or options["workers"] < 1 or options["concurrency"] < 1:
            raise CommandError("--targets, --workers and --concurrency must be at least 1.")
        run = RunOptions(
            targets=options["targets"],
            workers=WorkerOptions(count=options["workers"], pool=options["pool"], concurrency=options["concurrency"]),
            timeout=options["timeout"],
            private_redis=not options["shared_redis"],
            keep_logs=options["keep_logs"],
        )
        try:
            figures = run_benchmark(run)
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: every process was stopped and the run's data deleted.", returncode=130
            ) from None
        if options["json"]:
            self.stdout.write(figures.as_json())
        else:
            self.stdout.write(figures.table(f"bench_publish: {run.targets} targets due at once"))
        if not figures.is_clean:
            raise CommandError(
                f"Not exactly once: {figures.duplicates} duplicate(s), {figures.lost} lost, {figures.stuck} stuck."
            )
