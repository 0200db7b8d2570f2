"""Rate budgets: how fast we may publish, per account and per platform app, shared by every worker.

The delivery engine calls `acquire(account)` right before it sends a target.
`None` means go ahead (one unit was taken from every budget that applies);
a number is the seconds to wait before one more post fits, and nothing was
taken. Two budgets apply to every call, and both must allow:

- the **account** budget: one connected account (what the platform calls a user, a Page, a profile);
- the **app** budget: every account of that platform on this installation, because they all post
  through our one app. On Mastodon our app is registered per instance and on Bluesky each PDS
  limits per client IP, so there the app budget is per instance / per PDS.

Each budget is one or more sliding windows ("at most N in any S seconds").
The numbers are the platforms' documented limits (../shared/PLATFORMS.md),
kept a little under them where the platform counts every request (not only
posts) against the same limit. **[U]** marks a platform that publishes no
number: a conservative guess. Override any of them with the setting
`PUBLISH_RATE_BUDGETS`, e.g. `{"x": {"account": [(50, 900)], "app": [(5000, 86400)]}}`
(a scope given replaces that scope's windows; `[]` turns the scope's budget off).

Where the counts live:
- With `REDIS_URL` (production): a sorted set per window in Redis, holding the
  times of the posts it allowed. One Lua script checks every window of both
  budgets and records the post in all of them, or in none, in one atomic step
  on the Redis server and by the Redis server's clock, so concurrent workers on
  any number of machines never get more than the limit in any window. If Redis
  cannot be reached we fail closed: `acquire` answers "wait" (never over-grants).
- Without it (development, tests): fixed-window counters in Django's cache
  (`add` + `incr`). In development that cache is a file cache, which is per
  machine and whose `incr` is not atomic across processes; a fixed window
  also lets up to twice the limit through around a window's edge. Good enough
  for one developer's machine, not for production.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from django.core.cache import cache

if TYPE_CHECKING:
    from publishing.models import SocialAccount

logger = logging.getLogger(__name__)

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Redis keys: "<prefix>:{<platform>}:<scope>:<window seconds>". The hash tag {platform}
# keeps the keys one call touches in one slot, so the script also runs on Redis Cluster.
KEY_PREFIX = "letsgrow:budget"
# While Redis cannot be reached, ask the caller to come back after this long.
UNAVAILABLE_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Window:
    """At most `limit` posts in any `seconds` seconds."""

    limit: int
    seconds: int


@dataclass(frozen=True)
class PlatformBudget:
    account: tuple[Window, ...]  # per connected account
    app: tuple[Window, ...]  # per platform app (all accounts of the platform on this installation)


# The one table of limits. Sources: ../shared/PLATFORMS.md, "Rate limits" / "Limits" rows.
DEFAULT_BUDGETS: dict[str, PlatformBudget] = {
    # POST /2/tweets: 100 per 15 min per user, 10,000 per 24 h per app.
    "x": PlatformBudget(account=(Window(100, 15 * MINUTE),), app=(Window(10_000, DAY),)),
    # 300 requests per 5 min per account and per IP, counting every request (a post with media
    # takes several), so a third of it for posts; the per-IP limit is per instance.
    "mastodon": PlatformBudget(account=(Window(100, 5 * MINUTE),), app=(Window(100, 5 * MINUTE),)),
    # Reference PDS: writes 5,000 points/h and 35,000/day, a create costs 3 (≈1,666/h, ≈11,666/day);
    # 3,000 requests per 5 min per IP at each PDS.
    "bluesky": PlatformBudget(
        account=(Window(1_600, HOUR), Window(11_000, DAY)),
        app=(Window(1_000, 5 * MINUTE),),
    ),
    # 50 API-published posts per 24-hour moving window per account; no app-wide publishing limit.
    "instagram": PlatformBudget(account=(Window(50, DAY),), app=()),
    # 250 API posts per 24 h per profile; the app's call budget grows with impressions.
    "threads": PlatformBudget(account=(Window(250, DAY),), app=()),
    # [U] Daily per-member and per-app limits exist but are not published (reset at midnight UTC).
    "linkedin": PlatformBudget(account=(Window(50, DAY),), app=(Window(5_000, DAY),)),
    # [U] Page posting is throttled by Business Use Case limits that are not published as numbers.
    "facebook": PlatformBudget(account=(Window(25, HOUR), Window(100, DAY)), app=(Window(5_000, DAY),)),
}

# Check every window of every key, then record the post in all of them, or in none.
# KEYS: the windows' sorted sets. ARGV: a unique member, then (limit, window ms) per key.
# Returns 0 when allowed, else the milliseconds until every window has room.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member = ARGV[1]
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if limit <= 0 then
    wait = math.max(wait, window)
  elseif count >= limit then
    -- Room for one more once the (count - limit + 1)-th oldest post leaves the window.
    local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now, 1)
  end
end
if wait > 0 then
  return wait
end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return 0
"""


def _windows(value: Iterable[Any]) -> tuple[Window, ...]:
    return tuple(w if isinstance(w, Window) else Window(int(w[0]), int(w[1])) for w in value or ())


def budget_for(platform: str) -> PlatformBudget:
    """The budgets of `platform`: the table above with `settings.PUBLISH_RATE_BUDGETS` laid over it.

    A platform in neither has no budget (both scopes empty).
    """
    default = DEFAULT_BUDGETS.get(platform, PlatformBudget(account=(), app=()))
    override: Mapping[str, Any] = getattr(settings, "PUBLISH_RATE_BUDGETS", {}).get(platform) or {}
    return PlatformBudget(
        account=_windows(override["account"]) if "account" in override else default.account,
        app=_windows(override["app"]) if "app" in override else default.app,
    )


def _app_scope(account: SocialAccount) -> str:
    """Which app budget an account draws on: per instance on Mastodon, per PDS on Bluesky, else one."""
    if account.platform == "mastodon":
        return f"instance:{account.config.get('instance', '')}"
    if account.platform == "bluesky":
        return f"pds:{account.config.get('pds', '')}"
    return "app"


def _keyed_windows(account: SocialAccount) -> list[tuple[str, Window]]:
    budget = budget_for(account.platform)
    base = f"{KEY_PREFIX}:{{{account.platform}}}"
    keyed = [(f"{base}:account:{account.pk}:{w.seconds}", w) for w in budget.account]
    keyed += [(f"{base}:{_app_scope(account)}:{w.seconds}", w) for w in budget.app]
    return keyed


def acquire(account: SocialAccount) -> float | None:
    """Take one post from `account`'s budgets: None to go ahead, else the seconds to wait.

    Both the account's and its platform app's budgets must have room; if either
    has none, nothing is taken and the answer is how long until both have.
    Safe to call from any number of workers at once (see the module docstring).
    """
    keyed = _keyed_windows(account)
    if not keyed:
        return None
    if settings.REDIS_URL:
        return _acquire_with_redis(keyed)
    return _acquire_with_cache(keyed)


# --- Redis: exact sliding windows ------------------------------------------------------------

_clients: dict[str, tuple[redis.Redis, Any]] = {}


def _redis_script(url: str) -> Any:
    """The acquire script bound to a client of `url` (one client and pool per process and URL)."""
    if url not in _clients:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        _clients[url] = (client, client.register_script(_ACQUIRE_LUA))
    return _clients[url][1]


def _acquire_with_redis(keyed: list[tuple[str, Window]]) -> float | None:
    keys = [key for key, _ in keyed]
    args: list[str | int] = [uuid.uuid4().hex]
    for _, window in keyed:
        args += [window.limit, window.seconds * 1000]
    try:
        wait_ms = int(_redis_script(settings.REDIS_URL)(keys=keys, args=args))
    except redis.RedisError:
        logger.exception("Rate budgets: Redis is unavailable; holding publishing back for now.")
        return UNAVAILABLE_WAIT_SECONDS
    return wait_ms / 1000 if wait_ms > 0 else None


# --- Django's cache: fixed windows (development and tests) -----------------------------------


def _incr(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key)


def _acquire_with_cache(keyed: list[tuple[str, Window]]) -> float | None:
    now = time.time()
    taken: list[str] = []
    wait = 0.0
    for key, window in keyed:
        start = int(now // window.seconds) * window.seconds
        counter = f"{key}:{start}"
        if window.limit <= 0:
            wait = max(wait, start + window.seconds - now)
            continue
        taken.append(counter)
        if _incr(counter, window.seconds + 1) > window.limit:
            wait = max(wait, start + window.seconds - now)
    if wait <= 0:
        return None
    # Give back what this call took, so a refused post uses no budget.
    for counter in taken:
        with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
            cache.decr(counter)
    return wait
