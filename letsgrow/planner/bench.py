"""The machinery behind `manage.py bench_content_plan`: a content plan generated against a slow model, timed.

Everything runs in this process, on the configured database (SQLite by
default, PostgreSQL with DATABASE_URL):

- the local OpenAI-compatible server (content.llm_stub) on a free port, every
  answer held back `llm_latency` seconds, optionally failing a share of calls
  with 429/500 so the retries show;
- the platform emulator (publishing.emulator), on which the accounts are
  connected for real through the connection services (OAuth consent, Bluesky
  app password), one account per platform;
- a throw-away workspace on the Agency plan, whose plan runs synchronously
  with `run_content_plan` exactly as the Celery task runs it.

What is counted: posts made (each goes to every account: a variant per
platform, so `platform posts` = posts x accounts), the wall time of
`run_content_plan`, the completion requests the stub received (its request
log), the plan's retries and failures. The data is deleted at the end,
also when the run fails or is interrupted.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import override_settings

from publishing.benchmarks import emulator_consent

# Platforms that take a text-only post (Instagram needs an image), in the order the accounts are added.
PLATFORMS = ("x", "linkedin", "mastodon", "bluesky", "facebook", "threads")
BENCH_EMAIL_DOMAIN = "plan-bench.letsgrow.invalid"
EMULATOR_APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # noqa: S105 (the emulator accepts any app password)
STUB_MODEL = "stub-model"
# The content mix of the benchmark's workspace (built-in domains, so their descriptions and samples are real).
MIX = {"tech": 50, "business": 30, "lifestyle": 20}
# The goal: a month of posts, twice a day, on three platforms, with a model answering in 1.5 s.
GOAL = {"days": 30, "per_day": 2, "platforms": 3, "llm_latency": 1.5, "seconds": 30.0}


def log(message: str) -> None:
    """Progress for the person running the command: stderr, so stdout stays the figures (or the JSON)."""
    sys.stderr.write(f"[{datetime.now(tz=UTC):%H:%M:%S}] {message}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class BenchOptions:
    days: int = 30
    per_day: int = 2
    platforms: int = 3
    llm_latency: float = 1.5
    concurrency: int | None = None  # None: settings.LLM_MAX_CONCURRENCY
    fail_rate: float = 0.0
    seed: int = 1

    def check(self) -> None:
        problems = []
        if not 1 <= self.days <= 31:
            problems.append("--days must be 1 to 31")
        if not 1 <= self.per_day <= 10:
            problems.append("--per-day must be 1 to 10")
        if not 1 <= self.platforms <= len(PLATFORMS):
            problems.append(f"--platforms must be 1 to {len(PLATFORMS)} ({', '.join(PLATFORMS)})")
        if not 0 <= self.llm_latency <= 60:
            problems.append("--llm-latency must be 0 to 60 seconds")
        if self.concurrency is not None and not 1 <= self.concurrency <= 256:
            problems.append("--concurrency must be 1 to 256")
        if not 0 <= self.fail_rate < 1:
            problems.append("--fail-rate must be at least 0 and below 1 (e.g. 0.1)")
        if problems:
            raise CommandError("; ".join(problems) + ".")


@dataclass
class BenchFigures:
    posts: int
    accounts: int
    platform_posts: int
    wall_seconds: float
    llm_calls: int
    retries: int
    failures: int
    calls_per_second: float
    concurrency: int
    llm_latency: float
    fail_rate: float
    status: str
    statuses: dict[str, int]
    database: str
    goal_met: bool
    goal_comparable: bool

    def as_json(self) -> str:
        return json.dumps(asdict(self))

    def goal_line(self) -> str:
        verdict = "met" if self.goal_met else "missed"
        line = f"goal: ≤ {GOAL['seconds']:g} s for 180 posts at {GOAL['llm_latency']:g} s/call: {verdict}"
        if not self.goal_comparable:
            line += (
                f" (this run: {self.platform_posts} platform posts at {self.llm_latency:g} s/call; "
                "run --days 30 --per-day 2 --platforms 3 --llm-latency 1.5 to compare)"
            )
        return line

    def table(self, title: str) -> str:
        rows = [
            ("posts", f"{self.posts} to {self.accounts} account(s): {self.platform_posts} platform posts"),
            ("wall seconds", f"{self.wall_seconds:.2f}"),
            ("LLM calls", f"{self.llm_calls} ({self.calls_per_second:.1f} calls/s)"),
            ("retries", str(self.retries)),
            ("failures", str(self.failures)),
            ("concurrency", f"{self.concurrency} at {self.llm_latency:g} s per call, fail rate {self.fail_rate:g}"),
            ("plan", f"{self.status}; posts " + ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))),
            ("database", self.database),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [title, "-" * len(title)]
        lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
        lines.append(self.goal_line())
        return "\n".join(lines)


# --------------------------------------------------------------------------- the stand-ins


@contextmanager
def quiet_request_logs() -> Iterator[None]:
    """No log line per HTTP request of the stand-ins and the client: hundreds of them would bury the figures."""
    loggers = [logging.getLogger(name) for name in ("werkzeug", "httpx", "httpx2", "httpcore", "openai")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def stand_ins(options: BenchOptions) -> Iterator[tuple[str, Any, str]]:
    """The LLM stub and the platform emulator on free ports: yields (LLM base URL, stub control, emulator URL)."""
    from content.llm_stub import serve_in_thread as serve_llm
    from publishing.emulator.app import serve_in_thread as serve_emulator

    llm_server, llm_url, control = serve_llm()
    emulator_server, _app = serve_emulator()
    try:
        control.set_latency(options.llm_latency)
        yield llm_url, control, f"http://127.0.0.1:{emulator_server.server_port}"
    finally:
        llm_server.shutdown()
        emulator_server.shutdown()


def script_failures(control: Any, *, expected_calls: int, fail_rate: float, seed: int) -> int:
    """Make about `fail_rate` of the next calls fail (429 and 500, alternately); return how many were scripted."""
    if fail_rate <= 0:
        return 0
    chooser = random.Random(seed)  # noqa: S311 - a reproducible pattern, not a secret
    # A margin over the calls the run needs, since each failure brings a retry.
    count = int(expected_calls / (1 - fail_rate)) + 10
    kinds = []
    failed = 0
    for _ in range(count):
        if chooser.random() < fail_rate:
            kinds.append("rate_limited" if failed % 2 == 0 else "server_error")
            failed += 1
        else:
            kinds.append("ok")
    # retry_after=0: the client must not be told to wait; the planner's own backoff is what is measured.
    control.script(*kinds, retry_after=0)
    return failed


# --------------------------------------------------------------------------- the workspace


@dataclass
class Workload:
    run_id: str
    workspace: Any
    user: Any
    accounts: list[Any]
    mastodon_instance: str


def create_workload(run_id: str, platforms: int) -> Workload:
    """A workspace on the Agency plan with the mix's domains and one account per platform, connected for real."""
    from accounts.models import User
    from accounts.services import create_workspace
    from billing.models import Subscription
    from content.domains import BUILT_IN_DOMAINS
    from content.models import ContentDomain
    from publishing.connections import complete_connection, connect_bluesky, start_connection

    user = User.objects.create_user(email=f"owner-{run_id}@{BENCH_EMAIL_DOMAIN}", password=None, name="Benchmark")
    workspace = create_workspace(owner=user, name=f"Plan benchmark {run_id}", timezone="UTC")
    workload = Workload(
        run_id=run_id,
        workspace=workspace,
        user=user,
        accounts=[],
        mastodon_instance=f"lgplan-{run_id}.mastodon.example",
    )
    Subscription.objects.update_or_create(workspace=workspace, defaults={"plan": "agency"})
    for key in MIX:
        spec = BUILT_IN_DOMAINS[key]
        ContentDomain.objects.create(
            workspace=workspace,
            key=key,
            name=spec.name,
            description=spec.description,
            audience=spec.audience,
            tone=spec.tone,
            sample_posts=list(spec.sample_posts),
        )
    http = requests.Session()
    try:
        for platform in PLATFORMS[:platforms]:
            username = f"lgp{run_id}{platform[:2]}"
            if platform == "bluesky":
                workload.accounts.append(
                    connect_bluesky(
                        workspace=workspace,
                        user=user,
                        identifier=f"{username}.bsky.social",
                        app_password=EMULATOR_APP_PASSWORD,
                    )
                )
                continue
            session: dict[str, Any] = {}
            server = workload.mastodon_instance if platform == "mastodon" else ""
            url = start_connection(session=session, workspace=workspace, user=user, platform=platform, server=server)
            params = emulator_consent(http, url, username=username)
            # A platform may offer several accounts (Facebook Pages): one is enough here.
            workload.accounts.append(
                complete_connection(session=session, user=user, platform=platform, params=params)[0]
            )
    finally:
        http.close()
    return workload


def delete_workload(workload: Workload | None, run_id: str) -> None:
    """Delete what the run created: the workspace (cascading to accounts, plan, posts, usage), its owner, the app."""
    from accounts.models import User, Workspace
    from publishing.models import MastodonApp

    users = User.objects.filter(email=f"owner-{run_id}@{BENCH_EMAIL_DOMAIN}")
    Workspace.objects.filter(memberships__user__in=users).delete()
    if workload is not None:
        Workspace.objects.filter(pk=workload.workspace.pk).delete()
    users.delete()
    MastodonApp.objects.filter(instance=f"lgplan-{run_id}.mastodon.example").delete()


# --------------------------------------------------------------------------- the run


def run_bench(options: BenchOptions) -> BenchFigures:
    """Set everything up, run one plan synchronously, count, clean up; return the figures."""
    from django.conf import settings

    from content.models import Post
    from letsgrow.planner.services import create_content_plan, run_content_plan
    from publishing.models import PostTarget

    options.check()
    run_id = secrets.token_hex(4)
    concurrency = options.concurrency or int(getattr(settings, "LLM_MAX_CONCURRENCY", 16))
    workload: Workload | None = None
    with quiet_request_logs(), stand_ins(options) as (llm_url, control, emulator_url):
        overrides = override_settings(
            LLM_BASE_URL=llm_url,
            LLM_MODEL=STUB_MODEL,
            LLM_API_KEY="bench-key",
            LLM_FALLBACK_BASE_URL="",
            LLM_TIMEOUT_SECONDS=max(30.0, options.llm_latency * 4),
            LLM_MAX_CONCURRENCY=concurrency,
            PLATFORM_EMULATOR_ENABLED=True,
            PLATFORM_EMULATOR_URL=emulator_url,
        )
        with overrides:
            try:
                log(f"connecting {options.platforms} account(s) on the emulator at {emulator_url}")
                workload = create_workload(run_id, options.platforms)
                plan = create_content_plan(
                    workspace=workload.workspace,
                    actor=workload.user,
                    start_date=(datetime.now(tz=UTC) + timedelta(days=1)).date(),
                    days=options.days,
                    posts_per_day=options.per_day,
                    domain_mix=MIX,
                    account_ids=[account.pk for account in workload.accounts],
                    prompt="",
                    destination="review",
                    start=False,
                )
                scripted = script_failures(
                    control, expected_calls=plan.total, fail_rate=options.fail_rate, seed=options.seed
                )
                calls_before = len(control.completions())
                log(
                    f"generating {plan.total} posts, {concurrency} at a time, the model answering in "
                    f"{options.llm_latency:g} s" + (f" ({scripted} calls scripted to fail)" if scripted else "")
                )
                started = time.perf_counter()
                finished = run_content_plan(plan_id=plan.pk, concurrency=concurrency)
                wall = time.perf_counter() - started
                assert finished is not None  # noqa: S101 - created above, deleted only below
                calls = len(control.completions()) - calls_before
                posts = Post.objects.filter(content_plan=finished)
                statuses: dict[str, int] = {}
                for status in posts.values_list("status", flat=True):
                    statuses[status] = statuses.get(status, 0) + 1
                platform_posts = PostTarget.objects.filter(post__content_plan=finished).count()
                comparable = (
                    options.days == GOAL["days"]
                    and options.per_day == GOAL["per_day"]
                    and options.platforms == GOAL["platforms"]
                    and options.llm_latency == GOAL["llm_latency"]
                )
                return BenchFigures(
                    posts=finished.done,
                    accounts=len(workload.accounts),
                    platform_posts=platform_posts,
                    wall_seconds=round(wall, 3),
                    llm_calls=calls,
                    retries=finished.retries,
                    failures=finished.failed,
                    calls_per_second=round(calls / wall, 2) if wall > 0 else 0.0,
                    concurrency=concurrency,
                    llm_latency=options.llm_latency,
                    fail_rate=options.fail_rate,
                    status=finished.status,
                    statuses=statuses,
                    database=f"{connection.vendor} ({connection.settings_dict.get('NAME')})",
                    goal_met=wall <= GOAL["seconds"] and finished.done == finished.total,
                    goal_comparable=comparable,
                )
            finally:
                log("deleting the run's data")
                delete_workload(workload, run_id)
