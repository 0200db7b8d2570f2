"""The Celery entry point: thin, idempotent."""

from __future__ import annotations

import pytest

from content.models import ContentPlan, Post
from letsgrow.planner.tasks import SOFT_TIME_LIMIT_SECONDS, run_content_plan_task
from letsgrow.planner.tests.test_services import make_plan

pytestmark = pytest.mark.django_db


def test_the_task_runs_the_plan_once(llm_settings, llm_stub, workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)

    assert run_content_plan_task(plan.pk) == ContentPlan.Status.DONE
    assert run_content_plan_task(plan.pk) == ContentPlan.Status.DONE  # a redelivered message

    assert Post.objects.filter(content_plan=plan).count() == 2
    assert len(llm_stub.completions()) == 2


def test_the_task_for_a_deleted_plan_does_nothing():
    assert run_content_plan_task(123456) == "gone"


def test_the_task_is_registered_with_a_generous_time_limit():
    assert run_content_plan_task.name == "planner.run_content_plan"
    assert run_content_plan_task.soft_time_limit == SOFT_TIME_LIMIT_SECONDS == 600
    assert run_content_plan_task.time_limit > run_content_plan_task.soft_time_limit
