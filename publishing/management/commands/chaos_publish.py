"""Publish through worker crashes and a Redis restart, and prove every target still goes out exactly once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from publishing.benchmarks import ChaosOptions, RunOptions, WorkerOptions, run_benchmark


class Command(BaseCommand):
    help = (
        "Publish N targets on the real stack (PostgreSQL, a private Redis, real Celery workers and beat, the "
        "emulator) while SIGKILLing a random worker every few seconds and restarting Redis once; print published, "
        "duplicates (counted on the platforms' side), lost and stuck. Exits non-zero unless all three are 0. "
        "Needs DATABASE_URL (PostgreSQL; a database of its own) and REDIS_URL. See docs/BENCHMARKS.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--targets", type=int, default=2000, help="Targets to publish (default 2000).")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2).")
        parser.add_argument("--concurrency", type=int, default=4, help="Threads (or processes) per worker (default 4).")
        parser.add_argument(
            "--pool", choices=["threads", "prefork"], default="threads", help="Celery pool (default threads)."
        )
        parser.add_argument(
            "--spread", type=float, default=20, help="Seconds over which the due times are spread (default 20)."
        )
        parser.add_argument(
            "--kill-every", type=float, default=3, help="Seconds between two worker SIGKILLs (default 3)."
        )
        parser.add_argument(
            "--chaos-seconds",
            type=float,
            default=None,
            help="How long after the first due time the kills go on (default: the spread + 10).",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=900,
            help="Seconds after the last due time before what is unsettled counts as stuck (default 900).",
        )
        parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
        parser.add_argument("--keep-logs", action="store_true", help="Keep the processes' logs (kept on failure).")

    def handle(self, *args, **options):
        if options["targets"] < 1 or options["workers"] < 1 or options["concurrency"] < 1:
            raise CommandError("--targets, --workers and --concurrency must be at least 1.")
        if options["kill_every"] <= 0:
            raise CommandError("--kill-every must be more than 0 seconds.")
        spread = max(0.0, options["spread"])
        run = RunOptions(
            targets=options["targets"],
            workers=WorkerOptions(count=options["workers"], pool=options["pool"], concurrency=options["concurrency"]),
            timeout=options["timeout"],
            private_redis=True,  # it gets restarted: never the machine's own Redis
            spread=spread,
            keep_logs=options["keep_logs"],
        )
        chaos_seconds = options["chaos_seconds"] if options["chaos_seconds"] is not None else spread + 10
        try:
            figures = run_benchmark(run, ChaosOptions(kill_every=options["kill_every"], chaos_seconds=chaos_seconds))
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: every process was stopped and the run's data deleted.", returncode=130
            ) from None
        if options["json"]:
            self.stdout.write(figures.as_json())
        else:
            self.stdout.write(figures.table(f"chaos_publish: {run.targets} targets, workers killed, Redis restarted"))
        if not figures.is_clean:
            raise CommandError(
                f"Not exactly once under failure: {figures.duplicates} duplicate(s), {figures.lost} lost, "
                f"{figures.stuck} stuck."
            )
