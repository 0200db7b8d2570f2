"""Rate budgets: per account and per platform app, in Redis (exact, shared) or Django's cache (fallback)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
import redis

from publishing import budgets
from publishing.budgets import DAY, DEFAULT_BUDGETS, UNAVAILABLE_WAIT_SECONDS, PlatformBudget, Window, acquire
from publishing.models import SocialAccount
from publishing.providers import REGISTRY

NOW = 1_800_000_000.0  # a fixed clock for the cache fallback: 2027-01-15 08:00 UTC


def account(pk: int, platform: str = "x", **config: str) -> SocialAccount:
    return SocialAccount(pk=pk, platform=platform, config=config)


@pytest.fixture(autouse=True)
def _own_keys(monkeypatch):
    """Every test counts under its own key prefix, so runs never see each other's posts (and nothing is flushed)."""
    monkeypatch.setattr(budgets, "KEY_PREFIX", f"test-budget:{uuid.uuid4().hex}")


@pytest.fixture
def without_redis(settings, monkeypatch):
    settings.REDIS_URL = ""
    clock = {"now": NOW}
    monkeypatch.setattr(budgets.time, "time", lambda: clock["now"])
    return clock


@pytest.fixture
def real_redis(settings):
    """Redis from REDIS_URL; the test's keys are deleted afterwards."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    keys = list(client.scan_iter(f"{budgets.KEY_PREFIX}:*"))
    if keys:
        client.delete(*keys)


# --- the table --------------------------------------------------------------------------------


def test_every_platform_has_an_account_budget():
    assert sorted(DEFAULT_BUDGETS) == sorted(REGISTRY)
    assert [slug for slug, budget in DEFAULT_BUDGETS.items() if not budget.account] == []


@pytest.mark.parametrize(
    ("platform", "account_windows", "app_windows"),
    [
        ("x", (Window(100, 900),), (Window(10_000, DAY),)),
        ("instagram", (Window(50, DAY),), ()),
        ("threads", (Window(250, DAY),), ()),
    ],
)
def test_documented_limits(platform, account_windows, app_windows):
    assert budgets.budget_for(platform) == PlatformBudget(account=account_windows, app=app_windows)


def test_the_setting_overrides_a_scope_and_keeps_the_other(settings):
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(5, 60)]}, "threads": {"account": []}}

    assert budgets.budget_for("x") == PlatformBudget(account=(Window(5, 60),), app=(Window(10_000, DAY),))
    assert budgets.budget_for("threads") == PlatformBudget(account=(), app=())
    assert budgets.budget_for("instagram") == DEFAULT_BUDGETS["instagram"]


def test_a_platform_without_budgets_always_goes_ahead(without_redis):
    assert [acquire(account(1, platform="myspace")) for _ in range(3)] == [None, None, None]


# --- the cache fallback -----------------------------------------------------------------------


def test_cache_allows_up_to_the_account_limit_then_says_how_long_to_wait(settings, without_redis):
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(3, 60)], "app": []}}
    without_redis["now"] = NOW + 15  # 15 s into a 60-second window

    results = [acquire(account(1)) for _ in range(4)]

    assert results == [None, None, None, 45.0]


def test_cache_budgets_are_per_account_and_the_window_ends(settings, without_redis):
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(1, 60)], "app": []}}

    assert [acquire(account(1)), acquire(account(2)), acquire(account(1))] == [None, None, 60.0]

    without_redis["now"] = NOW + 60

    assert acquire(account(1)) is None


def test_cache_app_budget_is_shared_and_a_refusal_takes_nothing(settings, without_redis):
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(2, 60)], "app": [(3, 60)]}}

    results = [acquire(account(n)) for n in (1, 2, 3, 4)]

    assert results == [None, None, None, 60.0]
    # Account 4 was refused by the app budget; its own budget is untouched: two fit once the app has room.
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(2, 60)], "app": [(5, 60)]}}
    assert [acquire(account(4)), acquire(account(4)), acquire(account(4))] == [None, None, 60.0]


def test_mastodon_app_budgets_are_per_instance(settings, without_redis):
    settings.PUBLISH_RATE_BUDGETS = {"mastodon": {"account": [], "app": [(1, 300)]}}

    results = [
        acquire(account(1, "mastodon", instance="mastodon.social")),
        acquire(account(2, "mastodon", instance="fosstodon.org")),
        acquire(account(3, "mastodon", instance="mastodon.social")),
    ]

    assert results == [None, None, 300.0]


# --- Redis: exact sliding windows, shared by every worker --------------------------------------


@pytest.mark.redis
def test_redis_allows_up_to_the_limit_in_any_window(settings, real_redis):
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(2, 1)], "app": []}}

    first = acquire(account(1))
    time.sleep(0.5)
    second = acquire(account(1))
    wait = acquire(account(1))

    assert (first, second) == (None, None)
    # Room again once the first post is a second old (a sliding window: not the end of a fixed one).
    assert wait is not None and 0.2 < wait <= 0.5
    time.sleep(wait + 0.01)
    assert acquire(account(1)) is None
    refused = acquire(account(1))
    assert refused is not None and 0.2 < refused <= 0.5


@pytest.mark.redis
def test_redis_refusal_by_the_app_budget_takes_nothing_from_the_account(settings, real_redis):
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(2, 60)], "app": [(1, 60)]}}

    assert acquire(account(1)) is None
    assert acquire(account(2)) == pytest.approx(60.0, abs=0.5)

    account_key = f"{budgets.KEY_PREFIX}:{{x}}:account:2:60"
    assert real_redis.zcard(account_key) == 0


@pytest.mark.redis
def test_redis_never_over_grants_under_concurrency(settings, real_redis):
    """40 threads (as many workers) race for 6 accounts' budgets of 5 and an app budget of 23."""
    settings.PUBLISH_RATE_BUDGETS = {"x": {"account": [(5, 60)], "app": [(23, 60)]}}
    accounts = [account(pk) for pk in range(1, 7)]
    granted: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(40)

    def worker(n: int) -> None:
        start.wait()
        for i in range(5):
            target = accounts[(n + i) % len(accounts)]
            if acquire(target) is None:
                with lock:
                    granted[target.pk] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(granted.values()) == 23
    assert max(granted.values()) <= 5
    assert real_redis.zcard(f"{budgets.KEY_PREFIX}:{{x}}:app:60") == 23


@pytest.mark.redis
def test_redis_account_limit_holds_under_concurrency(settings, real_redis):
    settings.PUBLISH_RATE_BUDGETS = {"instagram": {"account": [(50, DAY)], "app": []}}
    results: list[float | None] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            result = acquire(account(7, "instagram"))
            with lock:
                results.append(result)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(None) == 50
    assert len(results) == 120


def test_unreachable_redis_fails_closed(settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(budgets, "_clients", {})

    assert acquire(account(1)) == UNAVAILABLE_WAIT_SECONDS
