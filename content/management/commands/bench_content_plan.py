"""Time a content plan ("30 days of content in 30 seconds") against the local LLM stub with a given latency."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from letsgrow.planner.bench import BenchOptions, run_bench


class Command(BaseCommand):
    help = (
        "Generate a content plan in-process against the local OpenAI-compatible stub (each call answered after "
        "--llm-latency seconds) for accounts connected on the platform emulator, on the configured database; print "
        "posts, wall seconds, LLM calls, retries, failures and calls/s, and whether the goal (at most 30 s for 180 "
        "posts at 1.5 s per call) was met. Deletes its data at the end."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="Days to plan (default 30).")
        parser.add_argument("--per-day", type=int, default=2, help="Posts per day (default 2).")
        parser.add_argument(
            "--platforms", type=int, default=3, help="Accounts, one per platform, each post goes to (default 3)."
        )
        parser.add_argument("--llm-latency", type=float, default=1.5, help="Seconds each LLM call takes (default 1.5).")
        parser.add_argument(
            "--concurrency", type=int, default=None, help="LLM calls at once (default: settings.LLM_MAX_CONCURRENCY)."
        )
        parser.add_argument(
            "--fail-rate", type=float, default=0.0, help="Share of LLM calls that fail with 429/500, e.g. 0.1."
        )
        parser.add_argument("--seed", type=int, default=1, help="Seed of the failure pattern (default 1).")
        parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")

    def handle(self, *args, **options):
        run = BenchOptions(
            days=options["days"],
            per_day=options["per_day"],
            platforms=options["platforms"],
            llm_latency=options["llm_latency"],
            concurrency=options["concurrency"],
            fail_rate=options["fail_rate"],
            seed=options["seed"],
        )
        try:
            figures = run_bench(run)
        except KeyboardInterrupt:
            raise CommandError("Interrupted: the run's data was deleted.", returncode=130) from None
        if options["json"]:
            self.stdout.write(figures.as_json())
        else:
            title = (
                f"bench_content_plan: {run.days} days x {run.per_day} a day, {run.platforms} platform(s), "
                f"{run.llm_latency:g} s per LLM call"
            )
            self.stdout.write(figures.table(title))
