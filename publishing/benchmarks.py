"""The machinery behind `bench_publish` and `chaos_publish`: a real stack, a workload, the figures.

Both commands drive the production path end to end, with nothing mocked:

- PostgreSQL (DATABASE_URL, created and migrated here if missing) and a Redis
  server as broker, cache and rate-budget store;
- the platform emulator in its own process (`manage.py run_emulator`), which
  is what the providers talk to (PLATFORM_EMULATOR_URL in the children);
- N real Celery worker processes and Celery beat (which runs the sweep from
  `letsgrow/periodic_tasks.py`, as in production);
- accounts connected through the real connection services (OAuth consent on
  the emulator, Bluesky app password), posts created, approved and scheduled
  through the publishing services, so every target is enqueued exactly as a
  user's would be (ETA task on commit).

Redis: by default the children get a private `redis-server` on a free port,
started and thrown away by the command. That keeps the machine's Redis
untouched (the chaos run restarts its Redis on purpose) and gives every run
fresh rate-budget windows: the budgets (publishing/budgets.py) keep sliding
windows per platform app in Redis, so back-to-back runs against one shared
Redis would otherwise be held back by the previous run's posts.

What is counted, and where:
- lateness: `published_at - scheduled_at` of each published target (the engine's own clock, UTC);
- throughput: published targets / (last `published_at` - first `scheduled_at`);
- duplicates: counted on the platforms' side. For each platform, the posts the
  emulator holds are grouped by the run's unique marker in their text; every
  post beyond the first of a marker is a duplicate. (The emulator's request log
  is read too: `resent` counts accepted create-post requests beyond the first per
  marker. It can exceed `duplicates` where the platform deduplicates a resend by
  its idempotency key, e.g. Mastodon, which is the safe way to resend.)
- lost: targets that are not `published` at the end, plus `published` targets
  whose post the platform does not hold;
- stuck: targets still `scheduled`, `publishing` or `unconfirmed` when the deadline passed;
- CPU: what each of our processes, PostgreSQL and the whole machine used from the due time on.

One run per database at a time (an advisory lock): the sweep of one run's
workers would otherwise send another run's targets to the wrong emulator.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.models import Count
from django.test.utils import override_settings

BASE_DIR = Path(settings.BASE_DIR)
BIN_DIR = Path(sys.executable).parent

# Platforms that accept a text-only post (Instagram needs an image).
PLATFORMS = ("x", "mastodon", "bluesky", "linkedin", "facebook", "threads")
# Posts per connected account in one run: far under every account budget in
# publishing/budgets.py (the tightest is Facebook's 25 per hour per Page), so
# the figures measure the engine, not a platform's rate limit.
POSTS_PER_ACCOUNT = 10
# Mastodon's app budget is per instance (100 per 5 minutes): spread the accounts over instances.
POSTS_PER_MASTODON_INSTANCE = 50
# App-wide budgets that one run cannot spread out (per 5 minutes / per day).
APP_BUDGET_PER_RUN = {"bluesky": 1_000, "x": 10_000, "linkedin": 5_000, "facebook": 5_000}

# What a person types on the emulator's consent page, and where it sends them back.
EMULATOR_APP_PASSWORD = "abcd-efgh-ijkl-mnop"  # noqa: S105 (the emulator accepts any app password)
BENCH_EMAIL_DOMAIN = "bench.letsgrow.invalid"

# The safety-net sweep (publishing.tasks.sweep_task) and how often it runs when beat does not run it.
SWEEP_TASK = "publishing.sweep"
SWEEP_EVERY_SECONDS = 5.0

# Terminal and non-terminal target statuses.
UNSETTLED = ("pending", "scheduled", "publishing", "unconfirmed")
STUCK = ("scheduled", "publishing", "unconfirmed")

# Where each platform keeps its published posts in the emulator's store, and
# the request that creates one (the committing call: Threads publishes a container).
POST_COLLECTIONS = {
    "x": "tweets",
    "mastodon": "statuses",
    "bluesky": "records",
    "linkedin": "posts",
    "facebook": "posts",
    "threads": "media",
}
CREATE_OPERATIONS = {
    "x": "create_tweet",
    "mastodon": "create_status",
    "bluesky": "create_record",
    "linkedin": "create_post",
    "facebook": "publish_feed",
    "threads": "publish_container",
}


def log(message: str) -> None:
    """Progress for the person running the command: stderr, so stdout stays the figures (or the JSON)."""
    sys.stderr.write(f"[{datetime.now(tz=UTC):%H:%M:%S}] {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- preconditions and database


def check_servers() -> None:
    """Refuse unless this installation runs on PostgreSQL and Redis, with the platforms emulated."""
    problems = []
    if not settings.DATABASE_URL or not settings.IS_POSTGRES:
        problems.append(
            "DATABASE_URL must point at PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/letsgrow_bench)"
        )
    if not settings.REDIS_URL:
        problems.append("REDIS_URL must be set (e.g. redis://127.0.0.1:6379/5)")
    if not settings.PLATFORM_EMULATOR_ENABLED:
        problems.append("the platforms must be emulated (PLATFORM_EMULATOR_ENABLED): benchmarks never post for real")
    if shutil.which("redis-server") is None:
        problems.append("the redis-server binary must be on PATH (the children get a private Redis)")
    if problems:
        raise CommandError("Benchmarks run against PostgreSQL + Redis + real workers: " + "; ".join(problems) + ".")


def ensure_database() -> None:
    """Create the database DATABASE_URL names when it does not exist, migrate it, declare the periodic tasks.

    Benchmarks use DATABASE_URL as given: point it at a database of its own
    (tests/test_benchmarks.py passes `<name>_bench_<pid>`). A run deletes what it created.
    """
    import psycopg
    from psycopg import sql

    name = settings.DATABASES["default"]["NAME"]
    params = settings.DATABASES["default"]
    conninfo = {
        "dbname": "postgres",
        "host": params.get("HOST") or None,
        "port": params.get("PORT") or None,
        "user": params.get("USER") or None,
        "password": params.get("PASSWORD") or None,
    }
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v}, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"Creating database {name}")
            # Someone else may create it at the same moment: theirs is as good as ours.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    call_command("migrate", interactive=False, verbosity=0)
    call_command("setup_periodic_tasks", verbosity=0, stdout=io.StringIO())


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Child:
    """One process the benchmark runs, in its own process group (so a kill takes its pool children too)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> Child:
        self.starts += 1
        with self.log_path.open("ab") as log_file:
            log_file.write(f"\n--- start #{self.starts}: {' '.join(self.argv)}\n".encode())
            log_file.flush()
            self.process = subprocess.Popen(  # noqa: S603 (our own argv)
                self.argv,
                cwd=BASE_DIR,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashed machine would, and reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask politely (SIGTERM to the leader: a Celery warm shutdown), then SIGKILL the group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, child: Child | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, requests.RequestException):
            result = predicate()
            if result:
                return result
        if child is not None and not child.is_running:
            raise CommandError(f"{child.name} exited while starting:\n{child.tail()}")
        time.sleep(0.2)
    detail = f"\n{child.tail()}" if child is not None else ""
    raise CommandError(f"Timed out after {timeout:.0f} s waiting for {what}.{detail}")


@dataclass
class WorkerOptions:
    count: int
    pool: str
    concurrency: int


class Stack:
    """The processes of one run: Redis (private by default), the emulator, workers and beat.

    Use as a context manager: every process is stopped on the way out, also on
    Ctrl-C or an error. The log folder is removed unless `keep_logs`.
    """

    def __init__(self, *, run_id: str, private_redis: bool, workers: WorkerOptions) -> None:
        self.run_id = run_id
        self.private_redis = private_redis
        self.worker_options = workers
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"letsgrow-bench-{run_id}-"))
        self.keep_logs = False
        self.redis: Child | None = None
        self.emulator: Child | None = None
        self.beat: Child | None = None
        self.workers: list[Child] = []
        self.redis_url = settings.REDIS_URL
        self.emulator_url = ""
        self._overrides: override_settings | None = None
        # Beat runs the sweep when letsgrow/periodic_tasks.py declares it; otherwise this process sends it.
        self.sends_sweep = not sweep_is_on_beat()
        self._next_sweep = 0.0
        # Read now: while settings are overridden, settings.SETTINGS_MODULE reads None.
        self.settings_module = settings.SETTINGS_MODULE or os.environ["DJANGO_SETTINGS_MODULE"]

    # -- lifecycle
    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for child in [*self.workers, self.beat, self.emulator]:
            if child is not None:
                child.stop()
        if self.redis is not None:
            self.redis.kill()
        if self._overrides is not None:
            self._overrides.disable()
            self._overrides = None
            _point_celery_at(settings.CELERY_BROKER_URL)
        if self.keep_logs:
            log(f"Process logs kept in {self.log_dir}")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=self.settings_module,
            DATABASE_URL=settings.DATABASE_URL,
            REDIS_URL=self.redis_url,
            PLATFORM_EMULATOR_ENABLED="true",
            PLATFORM_EMULATOR_URL=self.emulator_url,
            # DEBUG keeps every query in memory and slows every one: never in a measurement.
            DJANGO_DEBUG="false",
            PYTHONUNBUFFERED="1",
        )
        # As many drains as the workers have threads (unless set): more only queue behind them.
        options = self.worker_options
        env.setdefault("PUBLISH_MAX_DRAINS", str(options.count * options.concurrency))
        return env

    def _child(self, name: str, argv: list[str]) -> Child:
        return Child(name=name, argv=argv, env=self.child_env(), log_path=self.log_dir / f"{name}.log")

    # -- Redis
    def start_redis(self) -> None:
        """A private redis-server for the children (and this process's broker and cache)."""
        if not self.private_redis:
            return
        port = free_port()
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.log_dir),
        ]
        self.redis = Child(name="redis", argv=argv, env=dict(os.environ), log_path=self.log_dir / "redis.log").start()
        self._wait_for_redis()
        # This process enqueues (schedule_post) and reads the cache: the same Redis as the children.
        caches = {"default": {**settings.CACHES["default"], "LOCATION": self.redis_url}}
        self._overrides = override_settings(REDIS_URL=self.redis_url, CELERY_BROKER_URL=self.redis_url, CACHES=caches)
        self._overrides.enable()
        _point_celery_at(self.redis_url)

    def _wait_for_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        _wait_until(answers, timeout=15, what="the private Redis", child=self.redis)
        client.close()

    def restart_redis(self) -> None:
        """SIGKILL the private Redis and start it again, empty (it keeps nothing on disk)."""
        if self.redis is None:
            raise CommandError("Only a private Redis can be restarted.")
        self.redis.kill()
        time.sleep(1.0)
        self.redis.start()
        self._wait_for_redis()

    # -- the emulator
    def start_emulator(self) -> None:
        port = free_port()
        self.emulator_url = f"http://127.0.0.1:{port}"
        self.emulator = self._child(
            "emulator", [sys.executable, "manage.py", "run_emulator", "--port", str(port)]
        ).start()
        _wait_until(
            lambda: requests.get(f"{self.emulator_url}/_emulator/", timeout=2).ok,
            timeout=60,
            what="the platform emulator",
            child=self.emulator,
        )

    # -- Celery
    def worker_name(self, index: int) -> str:
        return f"bench{index}-{self.run_id}@{socket.gethostname()}"

    def start_workers(self) -> None:
        options = self.worker_options
        for index in range(options.count):
            argv = [
                str(BIN_DIR / "celery"),
                "-A",
                "letsgrow",
                "worker",
                "--pool",
                options.pool,
                "--concurrency",
                str(options.concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                # INFO shows each drain's outcomes and timing (for a look at --keep-logs); it costs some CPU.
                os.environ.get("LETSGROW_BENCH_WORKER_LOGLEVEL", "WARNING"),
                "--hostname",
                self.worker_name(index),
            ]
            self.workers.append(self._child(f"worker{index}", argv).start())

    def wait_for_workers(self, timeout: float = 90) -> None:
        from letsgrow.celery import app

        wanted = {self.worker_name(i) for i in range(len(self.workers))}

        def all_answer() -> bool:
            for worker in self.workers:
                if not worker.is_running:
                    raise CommandError(f"{worker.name} exited while starting:\n{worker.tail()}")
            replies = app.control.ping(destination=sorted(wanted), timeout=1.0) or []
            return wanted <= {name for reply in replies for name in reply}

        _wait_until(all_answer, timeout=timeout, what=f"{len(wanted)} Celery worker(s) to answer a ping")

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker with its pool, then start it again (what a supervisor would do)."""
        worker = self.workers[index]
        worker.kill()
        worker.start()

    def start_beat(self) -> None:
        argv = [
            str(BIN_DIR / "celery"),
            "-A",
            "letsgrow",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(self.log_dir / "beat-schedule"),
        ]
        self.beat = self._child("beat", argv).start()

    def tick(self, now: float) -> None:
        """Called by the waiting loop: send the sweep when beat does not."""
        if not self.sends_sweep or now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY_SECONDS
        from letsgrow.celery import app

        try:
            app.send_task(SWEEP_TASK)
        except Exception as exc:  # the broker may be down (the chaos run restarts it): next tick
            log(f"  could not send the sweep: {exc}")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by our processes (each with its pool children) and by the whole machine.

        `postgres` is the backends serving our database that are alive when read:
        a backend that exits in between (Celery closes the task's database
        connection after every task) takes its CPU with it, so it is a lower
        bound. `machine` counts every process on every core, anything else
        running here included: what bounds throughput on a small box.
        """
        groups = {"workers": [w.process for w in self.workers], "emulator": [self.emulator and self.emulator.process]}
        groups["beat"] = [self.beat and self.beat.process]
        groups["redis"] = [self.redis and self.redis.process]
        used = {
            name: round(sum(_group_cpu_seconds(p.pid) for p in processes if p is not None), 2)
            for name, processes in groups.items()
        }
        used["postgres"] = round(_postgres_cpu_seconds(settings.DATABASES["default"]["NAME"]), 2)
        used["machine"] = round(_machine_busy_seconds(), 2)
        return used

    def check_alive(self) -> None:
        """Fail fast when a process we did not kill ourselves died."""
        for child in [self.emulator, self.beat, self.redis]:
            if child is not None and not child.is_running:
                raise CommandError(f"{child.name} died during the run:\n{child.tail()}")


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes in process group `pgid` (Linux /proc)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        cpu = _cpu_of(stat)
        if cpu is not None and cpu[0] == pgid:
            total += cpu[1]
    return total


def _cpu_of(stat: Path) -> tuple[int, float] | None:
    """(process group, user + system CPU seconds) from a /proc/<pid>/stat file, or None if it is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _postgres_cpu_seconds(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving `database` (their title names it; Linux /proc)."""
    total = 0.0
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            title = (folder / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            cpu = _cpu_of(folder / "stat")
            total += cpu[1] if cpu else 0.0
    return total


def _machine_busy_seconds() -> float:
    """CPU seconds every core spent not idle since boot (Linux /proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / _CLOCK_TICKS


class CpuMeter:
    """CPU seconds our processes and the machine used between `start()` and `stop()`, and what was available."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.before: dict[str, float] = {}
        self.started = 0.0

    def start(self) -> None:
        self.before, self.started = self.stack.cpu_seconds(), time.monotonic()

    def stop(self) -> dict[str, float]:
        after = self.stack.cpu_seconds()
        used = {name: round(after.get(name, 0.0) - value, 2) for name, value in self.before.items()}
        used["available"] = round((time.monotonic() - self.started) * (os.cpu_count() or 1), 2)
        return used


def sweep_is_on_beat() -> bool:
    """Whether beat runs the sweep (letsgrow/periodic_tasks.py declares it)."""
    from letsgrow.periodic_tasks import PERIODIC_TASKS

    return any(spec.task == SWEEP_TASK for spec in PERIODIC_TASKS)


def _point_celery_at(broker_url: str) -> None:
    """Make this process's Celery app send to `broker_url` (drops connections made to another one)."""
    from letsgrow.celery import app

    app.close()
    app.conf.broker_url = broker_url


# --------------------------------------------------------------------------- the workspace and accounts


@dataclass
class Workload:
    """What one run created: the workspace, its owner, the accounts, and each target's marker."""

    run_id: str
    workspace: Any
    user: Any
    accounts: list[Any] = field(default_factory=list)
    mastodon_instances: list[str] = field(default_factory=list)
    # target id → the unique marker in its text (how the platforms' side is matched back)
    markers: dict[int, str] = field(default_factory=dict)
    post_ids: list[int] = field(default_factory=list)


def new_run_id() -> str:
    return secrets.token_hex(4)


def marker(run_id: str, n: int) -> str:
    """The unique word in the n-th post's text (unlike anything else a platform stores, e.g. instance names)."""
    return f"lgbench{run_id}n{n}"


MARKER_PATTERN = re.compile(r"\blgbench[0-9a-f]{8}n\d+\b")


# A PostgreSQL advisory lock (session level: released when our connection closes, also on a crash) that a
# run holds from start to end: one benchmark per database at a time, because the sweep of one run's workers
# would send the other run's targets to the wrong emulator.
RUN_LOCK = (0x4C47, 0x42454E43)  # "LG", "BENC"


def hold_run_lock() -> None:
    """Take the database's benchmark lock for this process, or refuse when another run holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", RUN_LOCK)
        (taken,) = cursor.fetchone()
    if not taken:
        raise CommandError(
            "Another benchmark is running against this database. Wait for it, or give this one a database "
            "of its own (DATABASE_URL)."
        )


def release_run_lock() -> None:
    with contextlib.suppress(Exception), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", RUN_LOCK)


def check_no_other_work() -> None:
    """Refuse a database holding targets that are waiting to go out: our workers would send them."""
    from publishing.models import PostTarget

    waiting = (
        PostTarget.objects.filter(status__in=STUCK)
        .exclude(workspace__memberships__user__email__endswith=f"@{BENCH_EMAIL_DOMAIN}")
        .count()
    )
    if waiting:
        raise CommandError(
            f"This database has {waiting} post target(s) waiting to be published that are not the benchmark's: "
            "its workers would send them. Give the benchmark a database of its own (DATABASE_URL)."
        )


def delete_leftovers() -> int:
    """Delete what runs that were killed before they cleaned up left behind; return how many workspaces.

    Call it holding the run lock: then no other run is alive on this database.
    """
    from accounts.models import User, Workspace

    users = User.objects.filter(email__endswith=f"@{BENCH_EMAIL_DOMAIN}")
    workspaces = Workspace.objects.filter(memberships__user__in=users).distinct()
    count = workspaces.count()
    for workspace in workspaces:
        workspace.delete()
    users.delete()
    _delete_mastodon_apps(prefix="lgbench-")
    return count


def _delete_mastodon_apps(*, prefix: str) -> None:
    from publishing.models import MastodonApp

    MastodonApp.objects.filter(instance__startswith=prefix).delete()


def create_workspace(run_id: str) -> Workload:
    """A workspace on the Agency plan (no post or account limit), owned by a benchmark user."""
    from accounts.models import User
    from accounts.services import create_workspace as create
    from billing.models import Subscription

    user = User.objects.create_user(email=f"owner-{run_id}@{BENCH_EMAIL_DOMAIN}", password=None, name="Benchmark")
    workspace = create(owner=user, name=f"Benchmark {run_id}", timezone="UTC")
    Subscription.objects.update_or_create(workspace=workspace, defaults={"plan": "agency"})
    return Workload(run_id=run_id, workspace=workspace, user=user)


def delete_workload(workload: Workload) -> None:
    """Delete everything the run created (the workspace cascades to accounts, posts, targets, events)."""
    from accounts.models import User, Workspace

    Workspace.objects.filter(pk=workload.workspace.pk).delete()
    User.objects.filter(pk=workload.user.pk).delete()
    _delete_mastodon_apps(prefix=f"lgbench-{workload.run_id}-")


def accounts_per_platform(targets: int) -> dict[str, int]:
    """How many accounts of each platform a run of `targets` needs (POSTS_PER_ACCOUNT each, round robin)."""
    accounts = max(len(PLATFORMS), math.ceil(targets / POSTS_PER_ACCOUNT))
    counts = dict.fromkeys(PLATFORMS, accounts // len(PLATFORMS))
    for platform in PLATFORMS[: accounts % len(PLATFORMS)]:
        counts[platform] += 1
    return counts


def check_app_budgets(targets: int) -> None:
    """Refuse a workload the platforms' app-wide budgets could not take in one go."""
    per_platform = math.ceil(targets / len(PLATFORMS))
    over = [f"{p} ({per_platform} > {limit})" for p, limit in APP_BUDGET_PER_RUN.items() if per_platform > limit]
    if over:
        raise CommandError(
            f"{targets} targets would exceed the app-wide rate budgets of {', '.join(over)}: "
            "the figures would measure the budgets, not the engine. Use fewer targets."
        )


class _ConsentForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action") or ""
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[values["name"] or ""] = values.get("value") or ""


def emulator_consent(session: requests.Session, authorization_url: str, *, username: str) -> dict[str, str]:
    """Answer the emulated consent page as the person `username` would: grant. Returns the callback's query."""
    page = session.get(authorization_url, timeout=10)
    page.raise_for_status()
    form = _ConsentForm()
    form.feed(page.text)
    parts = urlsplit(authorization_url)
    action = form.action if form.action.startswith("http") else f"{parts.scheme}://{parts.netloc}{form.action}"
    answer = session.post(
        action,
        data={**form.fields, "username": username, "decision": "grant"},
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code not in (302, 303):
        raise CommandError(f"The emulator's consent page answered {answer.status_code}: {answer.text[:200]}")
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


T = TypeVar("T")
R = TypeVar("R")


def in_threads(work: Callable[[list[T]], list[R]], items: list[T], parallel: int) -> list[R]:
    """Run `work` over `parallel` interleaved slices of `items`, side by side; return the results, concatenated.

    The services wait on the database and the emulator, not the CPU, so threads
    help. Each thread has its own database connection and closes it at the end.
    With `parallel` 1 it runs here, on this thread's connection (tests: their
    transaction is not visible to other connections).
    """
    if parallel <= 1:
        return work(items)

    def run(chunk: list[T]) -> list[R]:
        try:
            return work(chunk)
        finally:
            connection.close()

    chunks = [items[i::parallel] for i in range(parallel) if items[i::parallel]]
    with ThreadPoolExecutor(max_workers=len(chunks) or 1) as pool:
        return [result for results in pool.map(run, chunks) for result in results]


def _connect_group(workload: Workload, platform: str, usernames: list[str], server: str) -> list[Any]:
    """Connect accounts of one platform (one Mastodon instance) one after the other, as a person would."""
    from publishing.connections import complete_connection, connect_bluesky, start_connection

    connected = []
    http = requests.Session()
    try:
        for username in usernames:
            if platform == "bluesky":
                connected.append(
                    connect_bluesky(
                        workspace=workload.workspace,
                        user=workload.user,
                        identifier=f"{username}.bsky.social",
                        app_password=EMULATOR_APP_PASSWORD,
                    )
                )
                continue
            session: dict[str, Any] = {}
            url = start_connection(
                session=session, workspace=workload.workspace, user=workload.user, platform=platform, server=server
            )
            params = emulator_consent(http, url, username=username)
            connected.extend(complete_connection(session=session, user=workload.user, platform=platform, params=params))
    finally:
        http.close()
    return connected


def _connect_groups(workload: Workload, groups: list[tuple[str, list[str], str]]) -> list[Any]:
    return [account for group in groups for account in _connect_group(workload, *group)]


def connect_accounts(workload: Workload, targets: int, *, parallel: int = 6) -> None:
    """Connect the run's accounts on the emulator through the real connection services.

    One group per platform (per instance on Mastodon, whose app is registered
    per instance); groups run side by side, each one account at a time.
    """
    groups: list[tuple[str, list[str], str]] = []
    for platform, count in accounts_per_platform(targets).items():
        usernames = [f"lgb{workload.run_id}{platform[:2]}{i}" for i in range(count)]
        if platform == "mastodon":
            per_instance = max(1, POSTS_PER_MASTODON_INSTANCE // POSTS_PER_ACCOUNT)
            for start in range(0, count, per_instance):
                instance = f"lgbench-{workload.run_id}-{start // per_instance}.mastodon.example"
                workload.mastodon_instances.append(instance)
                groups.append((platform, usernames[start : start + per_instance], instance))
        else:
            groups.append((platform, usernames, ""))
    connect = partial(_connect_groups, workload)
    workload.accounts.extend(in_threads(connect, groups, parallel))
    workload.accounts.sort(key=lambda account: (account.platform, account.pk))


# --------------------------------------------------------------------------- posts and schedules


def create_posts(workload: Workload, targets: int, *, parallel: int = 4) -> float:
    """Create, submit and approve `targets` posts, one target each, round robin over the accounts.

    Each text is unique (its marker), so duplicates can be told apart on the
    platforms' side. The services run in `parallel` threads (they wait on the
    database, not the CPU). Returns the wall-clock seconds per post.
    """
    from publishing.models import PostTarget
    from publishing.scheduling import approve_post, create_post, submit_for_review

    accounts = workload.accounts
    done = Counter[str]()

    def create(numbers: list[int]) -> list[tuple[int, int]]:
        created = []
        for n in numbers:
            account = accounts[n % len(accounts)]
            text = f"LetsGrow benchmark post {marker(workload.run_id, n)} on {account.platform}"
            post = create_post(workspace=workload.workspace, author=workload.user, text=text, account_ids=[account.pk])
            submit_for_review(post=post, actor=workload.user)
            approve_post(post=post, actor=workload.user)
            created.append((n, post.pk))
            done["posts"] += 1
            if done["posts"] % 1000 == 0:
                log(f"  {done['posts']} posts created and approved")
        return created

    started = time.monotonic()
    created = sorted(in_threads(create, list(range(targets)), parallel))
    elapsed = time.monotonic() - started
    workload.post_ids = [post_id for _, post_id in created]
    for target_id, text in PostTarget.objects.filter(post_id__in=workload.post_ids).values_list("pk", "post__text"):
        found = MARKER_PATTERN.search(text)
        if found:
            workload.markers[target_id] = found.group(0)
    return elapsed / max(1, targets)


def schedule_posts(workload: Workload, due: Callable[[int], datetime], *, parallel: int = 4) -> float:
    """Schedule post n through `schedule_post` at `due(n)` (given in UTC); return when the last one committed.

    Like a user's, each schedule enqueues the delivery task with its ETA on commit.
    """
    from content.models import Post
    from publishing.scheduling import schedule_post

    posts = Post.objects.in_bulk(workload.post_ids)

    def schedule(numbers: list[int]) -> list[None]:
        for n in numbers:
            when = due(n).astimezone(UTC).replace(tzinfo=None)
            schedule_post(post=posts[workload.post_ids[n]], actor=workload.user, when_local=when, tz="UTC")
        return []

    in_threads(schedule, list(range(len(workload.post_ids))), parallel)
    return time.time()


# Scheduling a post costs about half of creating, submitting and approving it (measured on the
# benchmark machine); the lead leaves room for twice that, so every target is enqueued before it is due.
SCHEDULE_COST_RATIO = 0.5


def lead_time(targets: int, seconds_per_post: float, *, minimum: float = 5.0) -> float:
    """Seconds from now to the due instant: scheduling everything must end before it."""
    return minimum + 2 * SCHEDULE_COST_RATIO * targets * seconds_per_post


# --------------------------------------------------------------------------- waiting and measuring


def status_counts(workload: Workload) -> dict[str, int]:
    from publishing.models import PostTarget

    rows = PostTarget.objects.filter(post_id__in=workload.post_ids).values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}


def wait_until_settled(
    workload: Workload,
    *,
    deadline: float,
    stack: Stack,
    on_tick: Callable[[float], None] | None = None,
    report_every: float = 5.0,
) -> dict[str, int]:
    """Poll until no target is left unsettled or `deadline` (time.time()) passes; return the status counts."""
    last_report = 0.0
    while True:
        counts = status_counts(workload)
        now = time.time()
        if now - last_report >= report_every:
            log("  " + ", ".join(f"{status} {n}" for status, n in sorted(counts.items())))
            last_report = now
        if not any(counts.get(status) for status in UNSETTLED) or now >= deadline:
            return counts
        stack.check_alive()
        stack.tick(now)
        if on_tick is not None:
            on_tick(now)
        time.sleep(0.5)


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class PlatformCount:
    posts: Counter[str]  # marker → posts the platforms hold
    sends: Counter[str]  # marker → accepted create-post requests


def count_on_platforms(emulator_url: str) -> PlatformCount:
    """Count, per marker, the posts the emulated platforms hold and the create requests they accepted."""
    from publishing.emulator.control import EmulatorControl

    control = EmulatorControl(emulator_url)
    posts: Counter[str] = Counter()
    sends: Counter[str] = Counter()
    for platform in PLATFORMS:
        store = control.store(platform)
        for record in (store.get(POST_COLLECTIONS[platform]) or {}).values():
            if not record or record.get("deleted"):
                continue
            found = MARKER_PATTERN.search(json.dumps(record))
            if found:
                posts[found.group(0)] += 1
        containers = store.get("containers") or {}
        for entry in control.requests(platform=platform, operation=CREATE_OPERATIONS[platform]):
            if not 200 <= entry["status"] < 300:
                continue
            payload: Any = {"body": entry["body"], "query": entry["query"]}
            if platform == "threads":
                body = entry["body"] if isinstance(entry["body"], dict) else {}
                creation_id = body.get("creation_id") or entry["query"].get("creation_id", "")
                payload = containers.get(str(creation_id), {})
            found = MARKER_PATTERN.search(json.dumps(payload))
            if found:
                sends[found.group(0)] += 1
    return PlatformCount(posts=posts, sends=sends)


@dataclass
class Figures:
    """What a run prints. `seconds`: from the first due time until every target settled (or the deadline)."""

    targets: int
    workers: int
    throughput_per_s: float
    lateness_ms: dict[str, int]
    published: int
    duplicates: int
    lost: int
    stuck: int
    seconds: float
    # Context: how the run was set up and what else was seen.
    pool: str = ""
    concurrency: int = 0
    accounts: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    on_platforms: int = 0
    resent: int = 0
    missing_on_platform: int = 0
    scheduling_overran_ms: int = 0
    chaos: dict[str, int] = field(default_factory=dict)
    # CPU seconds each part used from the due time until the end, and the whole machine (see Stack.cpu_seconds).
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    # How fast this machine runs Python (`reference_cpu_ms`): compare runs on different machines with it.
    reference_ms: float = 0.0

    @property
    def is_clean(self) -> bool:
        return self.duplicates == 0 and self.lost == 0 and self.stuck == 0

    def as_json(self) -> str:
        data = asdict(self)
        if not self.chaos:
            data.pop("chaos")
        return json.dumps(data, sort_keys=False)

    def table(self, title: str) -> str:
        late = self.lateness_ms
        rows = [
            ("targets", f"{self.targets} over {self.accounts} accounts"),
            ("workers", f"{self.workers} x {self.pool} pool, concurrency {self.concurrency}"),
            ("throughput", f"{self.throughput_per_s:.1f} targets/s"),
            (
                "lateness (ms)",
                f"p50 {late['p50']}  p95 {late['p95']}  p99 {late['p99']}  max {late['max']}",
            ),
            ("published", str(self.published)),
            ("on the platforms", f"{self.on_platforms} (create requests resent: {self.resent})"),
            ("duplicates", str(self.duplicates)),
            ("lost", f"{self.lost} (published but not on the platform: {self.missing_on_platform})"),
            ("stuck", str(self.stuck)),
            ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))),
            ("seconds", f"{self.seconds:.1f}"),
        ]
        if self.scheduling_overran_ms:
            rows.append(("NOTE", f"scheduling ended {self.scheduling_overran_ms} ms after the due time"))
        if self.cpu_seconds:
            rows.append(("cpu seconds", ", ".join(f"{k} {v:g}" for k, v in self.cpu_seconds.items())))
            if self.published:
                per_target = 1000 * self.cpu_seconds.get("workers", 0.0) / self.published
                rows.append(("worker cpu/target", f"{per_target:.1f} ms"))
        for key, value in self.chaos.items():
            rows.append((key.replace("_", " "), str(value)))
        if self.reference_ms:
            rows.append(("machine speed", f"reference loop {self.reference_ms:.0f} ms of CPU (lower is faster)"))
        width = max(len(name) for name, _ in rows)
        lines = [title, "-" * len(title)]
        lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
        return "\n".join(lines)


def reference_cpu_ms(rounds: int = 5) -> float:
    """CPU milliseconds this machine takes for a fixed piece of pure Python (the best of `rounds`).

    Figures from machines of different speeds are not comparable as they are:
    this puts a number on the difference (a box twice as slow shows about twice
    the figure). Measured before the run, with the box otherwise idle.
    """
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        total = 0
        for n in range(1_000_000):
            total += n % 7
        json.loads(json.dumps([{"n": n, "text": f"post {n}"} for n in range(20_000)]))
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def measure(
    workload: Workload,
    *,
    emulator_url: str,
    workers: WorkerOptions,
    first_due: datetime,
    ended_at: float,
    scheduled_by: float,
) -> Figures:
    """Read the targets and the platforms' side, and work out the figures."""
    from publishing.models import PostTarget

    rows = list(
        PostTarget.objects.filter(post_id__in=workload.post_ids).values_list(
            "pk", "status", "scheduled_at", "published_at"
        )
    )
    counted = count_on_platforms(emulator_url)
    lateness = []
    published = missing = lost = stuck = 0
    last_published: datetime | None = None
    for target_id, status, scheduled_at, published_at in rows:
        on_platform = counted.posts.get(workload.markers.get(target_id, ""), 0) > 0
        if status == "published":
            published += 1
            if published_at is not None and scheduled_at is not None:
                lateness.append((published_at - scheduled_at).total_seconds() * 1000)
                last_published = max(last_published or published_at, published_at)
            if not on_platform:
                missing += 1
        if status != "published" or not on_platform:
            lost += 1
        if status in STUCK:
            stuck += 1
    run_markers = set(workload.markers.values())
    duplicates = sum(n - 1 for m, n in counted.posts.items() if m in run_markers and n > 1)
    resent = sum(n - 1 for m, n in counted.sends.items() if m in run_markers and n > 1)
    window = (last_published - first_due).total_seconds() if last_published else 0.0
    return Figures(
        targets=len(rows),
        workers=workers.count,
        throughput_per_s=round(published / window, 1) if window > 0 else 0.0,
        lateness_ms={
            "p50": round(percentile(lateness, 50)),
            "p95": round(percentile(lateness, 95)),
            "p99": round(percentile(lateness, 99)),
            "max": round(max(lateness, default=0.0)),
        },
        published=published,
        duplicates=duplicates,
        lost=lost,
        stuck=stuck,
        seconds=round(max(0.0, ended_at - first_due.timestamp()), 1),
        pool=workers.pool,
        concurrency=workers.concurrency,
        accounts=len(workload.accounts),
        statuses=status_counts(workload),
        on_platforms=sum(1 for m in run_markers if counted.posts.get(m)),
        resent=resent,
        missing_on_platform=missing,
        scheduling_overran_ms=max(0, round((scheduled_by - first_due.timestamp()) * 1000)),
    )


# --------------------------------------------------------------------------- one run, start to end


@dataclass
class RunOptions:
    targets: int
    workers: WorkerOptions
    timeout: float  # seconds after the last due time before what is unsettled counts as stuck
    private_redis: bool = True
    spread: float = 0.0  # seconds over which the due times are spread (0: all at one instant)
    keep_logs: bool = False


@dataclass
class ChaosOptions:
    kill_every: float  # seconds between two worker SIGKILLs
    chaos_seconds: float  # how long after the first due time the kills go on


@contextlib.contextmanager
def benchmark_run(options: RunOptions) -> Iterator[tuple[Stack, Workload]]:
    """Set up the stack and the workload; always tear both down (processes, then the data)."""
    check_servers()
    check_app_budgets(options.targets)
    run_id = new_run_id()
    previous_sigterm = signal.getsignal(signal.SIGTERM)

    def _interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A `kill` of the command cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupted)
    stack = Stack(run_id=run_id, private_redis=options.private_redis, workers=options.workers)
    stack.keep_logs = options.keep_logs
    workload: Workload | None = None
    failed = True
    try:
        log(f"Run {run_id}: preparing the database")
        ensure_database()
        hold_run_lock()
        leftovers = delete_leftovers()
        check_no_other_work()
        if leftovers:
            log(f"  deleted {leftovers} workspace(s) left by interrupted runs")
        stack.start_redis()
        stack.start_emulator()
        log(f"Emulator on {stack.emulator_url}; Redis {'private' if stack.redis else 'shared'} at {stack.redis_url}")
        with override_settings(PLATFORM_EMULATOR_ENABLED=True, PLATFORM_EMULATOR_URL=stack.emulator_url):
            workload = create_workspace(run_id)
            log(f"Connecting accounts for {options.targets} targets")
            connect_accounts(workload, options.targets)
            log(f"  {len(workload.accounts)} accounts connected; starting {options.workers.count} worker(s) and beat")
            if stack.sends_sweep:
                log(f"  beat has no sweep (letsgrow/periodic_tasks.py): sending it every {SWEEP_EVERY_SECONDS:g} s")
            stack.start_workers()
            stack.start_beat()
            yield stack, workload
        failed = False
    finally:
        try:
            stack.keep_logs = stack.keep_logs or failed
            stack.close()
        finally:
            try:
                if workload is not None:
                    log("Deleting the run's data")
                    delete_workload(workload)
            finally:
                release_run_lock()
                connections.close_all()
                signal.signal(signal.SIGTERM, previous_sigterm)


def due_times(first_due: datetime, targets: int, spread: float) -> Callable[[int], datetime]:
    """The due time of the n-th target: all at `first_due`, or spread evenly over `spread` seconds."""
    if spread <= 0 or targets <= 1:
        return lambda n: first_due
    step = spread / (targets - 1)
    return lambda n: first_due + timedelta(seconds=round(n * step, 3))


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, moment.timestamp() - time.time()))


def floor_to_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def run_benchmark(options: RunOptions, chaos: ChaosOptions | None = None) -> Figures:
    """Run one benchmark end to end and return its figures; with `chaos`, kill workers and restart Redis.

    Setup (accounts, posts, approvals) is not measured. Every target is scheduled
    through `schedule_post` for the same whole second (or spread over
    `options.spread` seconds), a few seconds ahead: far enough that scheduling
    them all ends before it. The figures cover the due time until every target
    settled or the deadline passed. Processes and data are always cleaned up.
    """
    reference_ms = reference_cpu_ms()
    with benchmark_run(options) as (stack, workload):
        log(f"Creating and approving {options.targets} posts")
        seconds_per_post = create_posts(workload, options.targets)
        stack.wait_for_workers()
        lead = timedelta(seconds=lead_time(options.targets, seconds_per_post))
        first_due = floor_to_second(datetime.now(tz=UTC) + lead)
        spread = f", spread over {options.spread:g} s" if options.spread else ""
        log(f"Scheduling every target for {first_due:%H:%M:%S} UTC{spread}")
        scheduled_by = schedule_posts(workload, due_times(first_due, options.targets, options.spread))
        log(f"Waiting for delivery ({time.time() - first_due.timestamp():+.1f} s from the due time)")
        trouble = Trouble(stack, first_due.timestamp(), options.spread, chaos) if chaos else None
        sleep_until(first_due)  # the CPU meter measures from the due time
        meter = CpuMeter(stack)
        meter.start()
        wait_until_settled(
            workload,
            deadline=first_due.timestamp() + options.spread + options.timeout,
            stack=stack,
            on_tick=trouble.tick if trouble else None,
            report_every=3 if trouble else 5,
        )
        ended_at = time.time()
        cpu = meter.stop()
        figures = measure(
            workload,
            emulator_url=stack.emulator_url,
            workers=options.workers,
            first_due=first_due,
            ended_at=ended_at,
            scheduled_by=scheduled_by,
        )
        figures.cpu_seconds = cpu
        figures.reference_ms = reference_ms
        if trouble:
            figures.chaos = trouble.done
        stack.keep_logs = stack.keep_logs or not figures.is_clean
    return figures


class Trouble:
    """The chaos: from the first due time, SIGKILL a random worker every few seconds; restart Redis once."""

    def __init__(self, stack: Stack, start: float, spread: float, options: ChaosOptions) -> None:
        self.stack = stack
        self.options = options
        self.next_kill = start
        self.redis_at = start + spread / 2  # mid-way: some ETA messages are still waiting in it
        self.until = start + options.chaos_seconds
        self.done = {"worker_kills": 0, "redis_restarts": 0}

    def tick(self, now: float) -> None:
        if now >= self.until:
            return
        if now >= self.next_kill:
            victim = random.randrange(len(self.stack.workers))  # noqa: S311 (not cryptography)
            log(f"  SIGKILL {self.stack.workers[victim].name} and its pool (then start it again)")
            self.stack.kill_worker(victim)
            self.done["worker_kills"] += 1
            self.next_kill = now + self.options.kill_every
        if not self.done["redis_restarts"] and now >= self.redis_at:
            log("  Restarting Redis (SIGKILL; it comes back empty: every queued message is gone)")
            self.stack.restart_redis()
            self.done["redis_restarts"] += 1
