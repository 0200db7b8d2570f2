"""`manage.py bench_content_plan`, small: it runs, prints its figures and leaves nothing behind."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User, Workspace
from content.models import ContentPlan, Post
from letsgrow.planner.bench import BENCH_EMAIL_DOMAIN

pytestmark = pytest.mark.django_db

# One generation at a time: the pool's threads would have database connections of their own, which cannot see
# the test's transaction (the command itself runs them side by side; see test_services for the pool).
SMALL = ["--days", "2", "--per-day", "2", "--platforms", "2", "--llm-latency", "0.05", "--concurrency", "1"]


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("bench_content_plan", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_small_run_prints_the_figures_and_cleans_up():
    output = _run(*SMALL)

    for figure in (
        r"^posts\s+\d+ to 2 account\(s\): \d+ platform posts$",
        r"^wall seconds\s+\d+\.\d+$",
        r"^LLM calls\s+\d+ \(\d+\.\d calls/s\)$",
        r"^retries\s+\d+$",
        r"^failures\s+\d+$",
        r"^goal: ≤ 30 s for 180 posts at 1\.5 s/call: (met|missed) \(this run: ",
    ):
        assert re.search(figure, output, re.MULTILINE), f"{figure!r} not in:\n{output}"
    assert not User.objects.filter(email__endswith=f"@{BENCH_EMAIL_DOMAIN}").exists()
    assert not Workspace.objects.exists()
    assert not ContentPlan.objects.exists()
    assert not Post.objects.exists()


def test_json_and_a_fail_rate_show_retries():
    figures = json.loads(_run(*SMALL, "--fail-rate", "0.5", "--json"))

    assert set(figures) >= {
        "posts",
        "platform_posts",
        "wall_seconds",
        "llm_calls",
        "retries",
        "failures",
        "calls_per_second",
        "goal_met",
    }
    assert figures["fail_rate"] == 0.5
    assert figures["retries"] > 0
    assert figures["llm_calls"] > figures["posts"]
    assert not Workspace.objects.exists()


def test_bad_options_are_refused_plainly():
    with pytest.raises(CommandError, match="--platforms must be 1 to 6"):
        _run("--platforms", "9")
    with pytest.raises(CommandError, match="--fail-rate must be at least 0 and below 1"):
        _run("--fail-rate", "1.5")
