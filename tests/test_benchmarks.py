"""The publishing benchmarks, run for real at a small size: they work and find nothing wrong.

CI runs `bench_publish` and `chaos_publish` with `--targets 200` to prove they work, not to time them: no
assertion here reads a duration (docs/BENCHMARKS.md holds the measured figures).

The commands run as subprocesses against PostgreSQL + Redis, so they cannot see pytest's test database:
they get a database of their own, `<DATABASE_URL's name>_bench_<pid>`, which the first command creates and
migrates and this module drops at its end (two test sessions on one server must not share it: a benchmark
refuses a database another benchmark is using).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from publishing import benchmarks
from publishing.connections import credentials_for, provider_for_account
from publishing.providers.base import Variant

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {
    "targets",
    "workers",
    "throughput_per_s",
    "lateness_ms",
    "published",
    "duplicates",
    "lost",
    "stuck",
    "seconds",
}


@pytest.fixture(scope="module")
def bench_database_url():
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"{parts.path.strip('/')}_bench_{os.getpid()}"
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _run(command: str, *args: str, env: dict[str, str] | None = None, timeout: int = 1200):
    return subprocess.run(
        [sys.executable, "manage.py", command, *args],
        cwd=ROOT,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="letsgrow.settings.test", PYTHONUNBUFFERED="1", **changes)
    return env


def _figures(result) -> dict:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr[-6000:]}"
    )
    return json.loads(result.stdout)


def _bench_users_left(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        query = "SELECT count(*) FROM accounts_user WHERE email LIKE %s"
        return conn.execute(query, [f"%@{benchmarks.BENCH_EMAIL_DOMAIN}"]).fetchone()[0]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.stack
def test_bench_publish_publishes_every_target_exactly_once(bench_database_url):
    database_url = bench_database_url

    result = _run("bench_publish", "--targets", "200", "--workers", "2", "--json", env=_env(DATABASE_URL=database_url))

    figures = _figures(result)
    assert figures.keys() >= FIGURES
    assert set(figures["lateness_ms"]) == {"p50", "p95", "p99", "max"}
    assert figures["targets"] == 200
    assert figures["workers"] == 2
    assert figures["published"] == 200
    assert figures["on_platforms"] == 200
    assert (figures["duplicates"], figures["lost"], figures["stuck"]) == (0, 0, 0)
    assert figures["statuses"] == {"published": 200}
    assert _bench_users_left(database_url) == 0


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.stack
def test_chaos_publish_loses_and_duplicates_nothing_through_crashes(bench_database_url):
    database_url = bench_database_url

    result = _run("chaos_publish", "--targets", "200", "--json", env=_env(DATABASE_URL=database_url))

    figures = _figures(result)
    assert figures.keys() >= FIGURES
    assert figures["targets"] == 200
    assert figures["published"] == 200
    assert (figures["duplicates"], figures["lost"], figures["stuck"]) == (0, 0, 0)
    assert figures["chaos"]["worker_kills"] >= 1
    assert figures["chaos"]["redis_restarts"] == 1
    assert _bench_users_left(database_url) == 0


def test_the_benchmarks_refuse_to_run_without_postgresql_and_redis(tmp_path):
    env = _env(LETSGROW_VAR_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)

    for command in ("bench_publish", "chaos_publish"):
        result = _run(command, "--targets", "10", env=env, timeout=120)

        assert result.returncode != 0
        assert "DATABASE_URL must point at PostgreSQL" in result.stderr
        assert "REDIS_URL must be set" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()


# --------------------------------------------------------------------------- the counting itself


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]

    assert benchmarks.percentile(values, 50) == 50
    assert benchmarks.percentile(values, 95) == 95
    assert benchmarks.percentile(values, 99) == 99
    assert benchmarks.percentile(values, 100) == 100
    assert benchmarks.percentile([7.0], 99) == 7
    assert benchmarks.percentile([], 99) == 0


def test_accounts_are_spread_over_the_text_only_platforms():
    counts = benchmarks.accounts_per_platform(1000)

    assert set(counts) == {"x", "mastodon", "bluesky", "linkedin", "facebook", "threads"}
    assert sum(counts.values()) == 1000 // benchmarks.POSTS_PER_ACCOUNT
    assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.django_db
def test_a_post_made_twice_on_a_platform_counts_as_a_duplicate(emulator):
    # Given two connected accounts on every platform (connected through the real services)
    workload = benchmarks.create_workspace("0badc0de")
    benchmarks.connect_accounts(workload, 12 * benchmarks.POSTS_PER_ACCOUNT, parallel=1)
    by_platform: dict[str, list] = {}
    for account in workload.accounts:
        by_platform.setdefault(account.platform, []).append(account)
    twice, once = benchmarks.marker("0badc0de", 1), benchmarks.marker("0badc0de", 2)

    # When each platform gets one post twice (from two accounts) and another once
    for platform, accounts in by_platform.items():
        for account, text in ((accounts[0], twice), (accounts[1], twice), (accounts[0], once)):
            provider = provider_for_account(account)
            credentials = credentials_for(account)
            variant = Variant(text=f"Benchmark post {text} on {platform}")
            provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    # Then the platforms' side shows each duplicate, and every accepted create request
    counted = benchmarks.count_on_platforms(emulator.base_url)
    platforms = len(benchmarks.PLATFORMS)
    assert set(by_platform) == set(benchmarks.PLATFORMS)
    assert counted.posts[twice] == 2 * platforms
    assert counted.posts[once] == platforms
    assert counted.sends[twice] == 2 * platforms
    assert counted.sends[once] == platforms
