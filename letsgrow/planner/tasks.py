"""Thin Celery entry points of the content planner (STYLE §5): load by id, call one service."""

from __future__ import annotations

from celery import shared_task

from letsgrow.planner.services import run_content_plan

# Generating a month of posts is a few dozen seconds with a healthy model; ten minutes covers a slow one.
# At the soft limit the service marks the plan failed (keeping what it made); the hard limit is the backstop.
SOFT_TIME_LIMIT_SECONDS = 10 * 60
TIME_LIMIT_SECONDS = SOFT_TIME_LIMIT_SECONDS + 60


@shared_task(name="planner.run_content_plan", soft_time_limit=SOFT_TIME_LIMIT_SECONDS, time_limit=TIME_LIMIT_SECONDS)
def run_content_plan_task(plan_id: int) -> str:
    """Generate the plan's missing posts; a duplicate message for a plan already running does nothing."""
    plan = run_content_plan(plan_id=plan_id)
    return plan.status if plan is not None else "gone"
