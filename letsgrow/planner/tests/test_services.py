"""The content plan's services: validation, the mix, the slots, the run (concurrency, retries, crashes, resume)."""

from __future__ import annotations

import threading
import time as clock
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError

from billing.models import Subscription
from content.ai.base import GeneratedPost
from content.ai.usage import month_start
from content.models import ContentDomain, ContentPlan, Post, TokenUsage
from letsgrow.planner import services
from letsgrow.planner.services import (
    ENQUEUE_FAILED,
    SlotPlanner,
    create_content_plan,
    interleave,
    plan_slots,
    resume_content_plan,
    run_content_plan,
    split_by_mix,
)
from publishing.models import AutomationSettings, PostTarget, QueueSlot, SocialAccount
from publishing.tests.factories import SocialAccountFactory
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def _tomorrow(tz: ZoneInfo = BERLIN) -> date:
    return (datetime.now(tz=UTC).astimezone(tz) + timedelta(days=1)).date()


def make_plan(workspace, actor, accounts, **overrides) -> ContentPlan:
    params = {
        "workspace": workspace,
        "actor": actor,
        "start_date": _tomorrow(ZoneInfo(workspace.timezone)),
        "days": 3,
        "posts_per_day": 2,
        "domain_mix": {"tech": 50, "business": 50},
        "account_ids": [account.pk for account in accounts],
        "start": False,
    }
    params.update(overrides)
    return create_content_plan(**params)


# --------------------------------------------------------------------------- the mix


@pytest.mark.parametrize(
    ("mix", "total", "expected"),
    [
        ({"a": 70, "b": 30}, 10, {"a": 7, "b": 3}),
        ({"a": 33, "b": 33, "c": 34}, 10, {"a": 3, "b": 3, "c": 4}),
        # 1.5 and 1.5: the tie goes to the domain named first.
        ({"a": 50, "b": 50}, 3, {"a": 2, "b": 1}),
        # 0.6, 0.3, 0.1 of one post: the largest remainder takes it.
        ({"a": 60, "b": 30, "c": 10}, 1, {"a": 1, "b": 0, "c": 0}),
        ({"a": 34, "b": 33, "c": 33}, 60, {"a": 20, "b": 20, "c": 20}),
        ({"a": 45, "b": 45, "c": 10}, 7, {"a": 3, "b": 3, "c": 1}),
    ],
)
def test_the_mix_is_split_by_largest_remainder(mix, total, expected):
    assert split_by_mix(mix, total) == expected


@pytest.mark.parametrize("total", [1, 2, 7, 13, 60, 310])
def test_the_split_always_adds_up_to_the_total(total):
    counts = split_by_mix({"a": 17, "b": 29, "c": 54}, total)

    assert sum(counts.values()) == total


def test_interleaving_spreads_the_domains():
    assert "".join(interleave({"a": 4, "b": 2})) == "abaaba"


def test_interleaving_keeps_the_mix_in_every_stretch_of_days():
    sequence = interleave(split_by_mix({"tech": 70, "memes": 30}, 60))

    assert Counter(sequence) == {"tech": 42, "memes": 18}
    for end in range(1, 61):  # every prefix is within one post of its share
        assert abs(sequence[:end].count("tech") - 0.7 * end) <= 1
    for day in range(30):  # two posts a day: never two memes on one day
        assert sequence[2 * day : 2 * day + 2].count("memes") <= 1


# --------------------------------------------------------------------------- validation


def test_a_plan_is_created_queued_with_its_total(workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=30, posts_per_day=2, prompt="  Our spring menu  ")

    assert plan.status == ContentPlan.Status.QUEUED
    assert plan.total == 60
    assert plan.domain_mix == {"tech": 50, "business": 50}
    assert plan.account_ids == [account.pk for account in accounts]
    assert plan.prompt == "Our spring menu"
    assert plan.created_by == editor
    assert plan.destination == "review"


def test_the_task_is_enqueued_when_the_transaction_commits(
    workspace, editor, accounts, django_capture_on_commit_callbacks
):
    with mock.patch("letsgrow.planner.tasks.run_content_plan_task.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            plan = make_plan(workspace, editor, accounts, start=True)
        assert delay.call_count == 0  # not before the commit

        for callback in callbacks:
            callback()

    delay.assert_called_once_with(plan.pk)


def test_a_broker_outage_fails_the_plan_visibly(workspace, editor, accounts, django_capture_on_commit_callbacks):
    with (
        mock.patch("letsgrow.planner.tasks.run_content_plan_task.delay", side_effect=OSError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        plan = make_plan(workspace, editor, accounts, start=True)

    plan.refresh_from_db()
    assert plan.status == ContentPlan.Status.FAILED
    assert plan.error == ENQUEUE_FAILED
    assert services.may_resume(plan)


def _error_of(excinfo, field: str) -> str:
    return " ".join(excinfo.value.message_dict[field])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"start_date": date(2020, 1, 1)}, "start_date", "has passed"),
        ({"days": 0}, "days", "Plan between 1 and 31 days."),
        ({"days": 32}, "days", "Plan between 1 and 31 days."),
        ({"days": "many"}, "days", "Plan between 1 and 31 days."),
        ({"posts_per_day": 11}, "posts_per_day", "Make between 1 and 10 posts a day."),
        ({"domain_mix": {"tech": 50, "business": 40}}, "domain_mix", "add up to 90%"),
        ({"domain_mix": {"tech": 50, "cooking": 50}}, "domain_mix", "“cooking” is not one of this workspace's"),
        ({"domain_mix": {"tech": 50.5, "business": 49.5}}, "domain_mix", "whole-number share"),
        ({"domain_mix": {}}, "domain_mix", "Give each content domain a share"),
        ({"account_ids": []}, "account_ids", "Choose at least one account"),
        ({"account_ids": ["x"]}, "account_ids", "Choose the accounts to post to from the list."),
        ({"prompt": "x" * 1600}, "prompt", "Keep the prompt under 1,500 characters (it has 1,600)."),
        ({"destination": "publish"}, "destination", "the approval queue or drafts"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_is_saved(workspace, editor, accounts, changes, field, message):
    with pytest.raises(ValidationError) as excinfo:
        make_plan(workspace, editor, accounts, **changes)

    assert message in _error_of(excinfo, field)
    assert not ContentPlan.objects.exists()


def test_another_workspaces_account_is_refused(workspace, editor, accounts):
    stranger = SocialAccountFactory(workspace=WorkspaceFactory())

    with pytest.raises(ValidationError) as excinfo:
        make_plan(workspace, editor, [*accounts, stranger])

    assert "not connected to this workspace" in _error_of(excinfo, "account_ids")


def test_a_disconnected_account_is_refused(workspace, editor, accounts):
    SocialAccount.objects.filter(pk=accounts[0].pk).update(status=SocialAccount.Status.RECONNECT_NEEDED)

    with pytest.raises(ValidationError) as excinfo:
        make_plan(workspace, editor, accounts)

    assert "Reconnect X · cafe_x" in _error_of(excinfo, "account_ids")


def test_the_plans_posts_per_day_limit_applies(workspace, editor, accounts):
    Subscription.objects.filter(workspace=workspace).update(plan="free")

    with pytest.raises(ValidationError) as excinfo:
        make_plan(workspace, editor, accounts[:1], posts_per_day=3)

    assert _error_of(excinfo, "posts_per_day") == (
        "The Free plan allows 2 posts per day; choose 2 or fewer, or upgrade the plan."
    )


def test_a_workspace_without_domains_is_told_to_choose_them(editor, accounts, workspace):
    ContentDomain.objects.filter(workspace=workspace).delete()

    with pytest.raises(ValidationError) as excinfo:
        make_plan(workspace, editor, accounts)

    assert "no content domains yet" in _error_of(excinfo, "domain_mix")


def test_a_used_up_token_budget_is_refused_up_front(llm_settings, workspace, editor, accounts):
    TokenUsage.objects.create(workspace=workspace, month=month_start(), prompt_tokens=2_000_000)

    with pytest.raises(ValidationError) as excinfo:
        make_plan(workspace, editor, accounts)

    assert "used all 1,000,000 AI tokens" in _error_of(excinfo, "__all__")


def test_a_viewer_cannot_make_a_plan(workspace, viewer, accounts):
    with pytest.raises(PermissionDenied):
        make_plan(workspace, viewer, accounts)

    assert not ContentPlan.objects.exists()


# --------------------------------------------------------------------------- slots


def _planner(workspace, accounts, per_day: int) -> SlotPlanner:
    return SlotPlanner.for_accounts(
        workspace=workspace, account_ids=[account.pk for account in accounts], posts_per_day=per_day
    )


def test_slots_are_the_times_every_account_shares_in_the_workspaces_time_zone(workspace, accounts):
    workspace.timezone = "America/New_York"
    workspace.save()
    x, linkedin = accounts
    for weekday in range(7):
        for at in (time(9), time(12, 30), time(17)):
            QueueSlot.objects.create(workspace=workspace, social_account=x, weekday=weekday, time_of_day=at)
        for at in (time(12, 30), time(17), time(20)):
            QueueSlot.objects.create(workspace=workspace, social_account=linkedin, weekday=weekday, time_of_day=at)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)

    slots = plan_slots(planner=_planner(workspace, accounts, 2), start_date=date(2026, 6, 2), days=3, now=now)

    new_york = ZoneInfo("America/New_York")
    assert [slot.when.astimezone(new_york).strftime("%d %H:%M") for slot in slots] == [
        "02 12:30",
        "02 17:00",
        "03 12:30",
        "03 17:00",
        "04 12:30",
        "04 17:00",
    ]
    assert slots[0].when == datetime(2026, 6, 2, 16, 30, tzinfo=UTC)  # 12:30 EDT


def test_without_queue_slots_the_automation_times_inside_the_active_hours_are_used(workspace, accounts):
    AutomationSettings.objects.create(
        workspace=workspace, active_from=time(8), active_until=time(20), posting_times=["10:00"], posts_per_day=1
    )
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)

    slots = plan_slots(planner=_planner(workspace, accounts, 3), start_date=date(2026, 6, 2), days=1, now=now)

    # 10:00 from the automation, then the rest spread over 08:00-20:00.
    assert [slot.local.strftime("%H:%M") for slot in slots] == ["10:00", "14:00", "18:00"]


def test_slots_are_never_in_the_past_and_no_day_gets_more_than_its_share(workspace, accounts):
    AutomationSettings.objects.create(workspace=workspace, posting_times=["09:00", "15:00"], posts_per_day=2)
    # 12:00 in Berlin on 1 June: the plan starts today, so today's 09:00 has passed.
    now = datetime(2026, 6, 1, 10, tzinfo=UTC)

    slots = plan_slots(planner=_planner(workspace, accounts, 2), start_date=date(2026, 6, 1), days=2, now=now)

    assert len(slots) == 4
    assert all(slot.when > now + services.SLOT_MARGIN for slot in slots)
    per_day = Counter(slot.day for slot in slots)
    assert per_day == {date(2026, 6, 1): 1, date(2026, 6, 2): 2, date(2026, 6, 3): 1}
    assert f"{slots[0].local:%Y-%m-%d %H:%M}" == "2026-06-01 15:00"


def test_a_slot_the_clocks_skip_moves_an_hour_later(workspace, accounts):
    AutomationSettings.objects.create(workspace=workspace, posting_times=["02:30"], posts_per_day=1)
    now = datetime(2026, 3, 1, tzinfo=UTC)

    slots = plan_slots(planner=_planner(workspace, accounts, 1), start_date=date(2026, 3, 29), days=1, now=now)

    assert f"{slots[0].local:%Y-%m-%d %H:%M}" == "2026-03-29 03:30"
    assert slots[0].when == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST


# --------------------------------------------------------------------------- running


def test_a_plan_for_the_approval_queue_makes_every_post_pending_review_with_its_time(
    llm_settings, llm_stub, workspace, editor, accounts
):
    plan = make_plan(workspace, editor, accounts, days=3, posts_per_day=2, domain_mix={"tech": 70, "business": 30})

    plan = run_content_plan(plan_id=plan.pk)

    assert plan.status == ContentPlan.Status.DONE
    assert (plan.done, plan.failed, plan.retries, plan.error) == (6, 0, 0, "")
    assert plan.finished_at is not None
    assert len(llm_stub.completions()) == 6
    posts = list(Post.objects.filter(content_plan=plan).select_related("domain"))
    assert len(posts) == 6
    assert {post.status for post in posts} == {Post.Status.PENDING_REVIEW}
    assert {post.source for post in posts} == {Post.Source.AI}
    assert Counter(post.domain.key for post in posts) == {"tech": 4, "business": 2}
    assert len({post.text for post in posts}) == 6  # each post takes its own angle
    targets = PostTarget.objects.filter(post__content_plan=plan)
    assert targets.count() == 12  # each post to both accounts
    assert {target.status for target in targets} == {PostTarget.Status.PENDING}
    for post in posts:
        planned = datetime.fromisoformat(post.generation["planned_for"])
        assert {target.scheduled_at for target in post.targets.all()} == {planned}
        assert {target.schedule_timezone for target in post.targets.all()} == {"Europe/Berlin"}
        assert post.performance_score is not None
    # Two a day on three days, at the default slots (the automation's posting times), in Berlin time.
    local = sorted(datetime.fromisoformat(post.generation["planned_for"]).astimezone(BERLIN) for post in posts)
    assert Counter(moment.date() for moment in local) == {plan.start_date + timedelta(days=d): 2 for d in range(3)}
    default_times = AutomationSettings(workspace=workspace).posting_times
    assert {moment.strftime("%H:%M") for moment in local} == set(default_times)
    assert QueueSlot.objects.filter(social_account=accounts[0]).exists()  # ensure_default_slots gave them slots


def test_a_plan_for_drafts_leaves_drafts_with_the_intended_time_recorded(
    llm_settings, llm_stub, workspace, editor, accounts
):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2, destination="drafts")

    plan = run_content_plan(plan_id=plan.pk)

    posts = Post.objects.filter(content_plan=plan)
    assert {post.status for post in posts} == {Post.Status.DRAFT}
    assert not PostTarget.objects.filter(post__content_plan=plan, scheduled_at__isnull=False).exists()
    assert all(datetime.fromisoformat(post.generation["planned_for"]) > datetime.now(tz=UTC) for post in posts)


def test_each_post_has_a_variant_per_account_that_fits_its_platform(llm_settings, workspace, editor, accounts):
    plan = run_content_plan(plan_id=make_plan(workspace, editor, accounts, days=1, posts_per_day=1).pk)

    post = Post.objects.get(content_plan=plan)
    x_target = post.targets.get(social_account=accounts[0])
    assert x_target.text  # X gets its own, shorter, version
    assert len(x_target.text) <= 280


def test_without_a_model_the_posts_are_made_offline_and_labelled(no_llm, workspace, editor, accounts):
    plan = run_content_plan(plan_id=make_plan(workspace, editor, accounts, days=1, posts_per_day=2).pk)

    assert plan.status == ContentPlan.Status.DONE
    posts = Post.objects.filter(content_plan=plan)
    assert {post.source for post in posts} == {Post.Source.TEMPLATE}
    assert {post.generation["source"] for post in posts} == {"offline"}
    assert not any("Angle" in post.text for post in posts)  # the model's scaffolding stays out of offline posts


def test_failed_calls_are_retried_and_counted(llm_settings, llm_stub, workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)
    llm_stub.script("server_error", "rate_limited", retry_after=0)

    plan = run_content_plan(plan_id=plan.pk)

    assert (plan.status, plan.done, plan.failed, plan.retries) == (ContentPlan.Status.DONE, 2, 0, 2)
    assert len(llm_stub.completions()) == 4


def test_a_post_that_keeps_failing_counts_as_failed_after_two_retries(
    llm_settings, llm_stub, workspace, editor, accounts
):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)
    llm_stub.script("server_error", "server_error", "server_error")

    plan = run_content_plan(plan_id=plan.pk)

    assert (plan.status, plan.done, plan.failed, plan.retries) == (ContentPlan.Status.DONE, 1, 1, 2)
    assert plan.error.startswith("1 of 2 posts could not be made: The AI model did not answer (server error).")
    assert len(llm_stub.completions()) == 4


def test_a_plan_where_nothing_could_be_made_fails_with_the_reason(llm_settings, workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)
    # The month's tokens run out after the plan was made: not worth retrying.
    TokenUsage.objects.create(workspace=workspace, month=month_start(), prompt_tokens=2_000_000)

    with mock.patch.object(services, "generate_post", wraps=services.generate_post) as generate:
        plan = run_content_plan(plan_id=plan.pk)

    assert plan.status == ContentPlan.Status.FAILED
    assert plan.error.startswith("No post could be generated. This workspace has used all 1,000,000 AI tokens")
    assert (plan.done, plan.failed, plan.retries) == (0, 2, 0)
    assert generate.call_count == 2  # once each: a budget does not come back by retrying


def test_a_duplicate_run_does_nothing(llm_settings, llm_stub, workspace, editor, accounts):
    plan = run_content_plan(plan_id=make_plan(workspace, editor, accounts, days=1, posts_per_day=2).pk)
    calls = len(llm_stub.completions())

    again = run_content_plan(plan_id=plan.pk)

    assert again.status == ContentPlan.Status.DONE
    assert Post.objects.filter(content_plan=plan).count() == 2
    assert len(llm_stub.completions()) == calls


def test_a_plan_another_worker_is_running_is_left_alone(llm_settings, llm_stub, workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)
    ContentPlan.objects.filter(pk=plan.pk).update(status=ContentPlan.Status.RUNNING)

    result = run_content_plan(plan_id=plan.pk)

    assert result.status == ContentPlan.Status.RUNNING
    assert llm_stub.completions() == []
    assert run_content_plan(plan_id=plan.pk + 1000) is None


def test_a_crash_marks_the_plan_failed_with_the_reason(llm_settings, workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)

    with mock.patch.object(services, "_save", side_effect=RuntimeError("disk full")):
        plan = run_content_plan(plan_id=plan.pk)

    assert plan.status == ContentPlan.Status.FAILED
    assert plan.error == (
        "Generation stopped: An unexpected error stopped it (RuntimeError). 0 of 2 posts were made; "
        "retry the missing posts to finish the plan."
    )
    assert plan.finished_at is not None


def test_an_account_disconnected_before_the_run_fails_the_plan_plainly(llm_settings, workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=1)
    SocialAccount.objects.filter(pk=accounts[1].pk).update(status=SocialAccount.Status.REVOKED)

    plan = run_content_plan(plan_id=plan.pk)

    assert plan.status == ContentPlan.Status.FAILED
    assert plan.error == "Reconnect LinkedIn · cafe_li, then retry the missing posts."
    assert not Post.objects.filter(content_plan=plan).exists()


def test_resume_generates_only_the_missing_posts_at_their_own_times(
    llm_settings, llm_stub, workspace, editor, accounts
):
    plan = make_plan(workspace, editor, accounts, days=2, posts_per_day=2)
    llm_stub.script("server_error", "server_error", "server_error")  # the first post fails three times
    plan = run_content_plan(plan_id=plan.pk)
    assert (plan.done, plan.failed) == (3, 1)
    made = set(Post.objects.filter(content_plan=plan).values_list("generation__plan_slot", flat=True))
    assert made == {1, 2, 3}
    llm_stub.reset()

    resumed = resume_content_plan(plan=plan, actor=editor)
    assert (resumed.status, resumed.failed, resumed.error) == (ContentPlan.Status.QUEUED, 0, "")
    plan = run_content_plan(plan_id=plan.pk)

    assert (plan.status, plan.done, plan.failed) == (ContentPlan.Status.DONE, 4, 0)
    assert len(llm_stub.completions()) == 1
    posts = Post.objects.filter(content_plan=plan)
    assert sorted(post.generation["plan_slot"] for post in posts) == [0, 1, 2, 3]
    times = sorted(datetime.fromisoformat(post.generation["planned_for"]) for post in posts)
    assert len(set(times)) == 4
    assert times[0].astimezone(BERLIN).date() == plan.start_date  # the missing first post kept its own slot


def test_resume_refuses_a_complete_plan_and_a_plan_still_making_progress(
    llm_settings, workspace, editor, viewer, accounts
):
    done = run_content_plan(plan_id=make_plan(workspace, editor, accounts, days=1, posts_per_day=1).pk)
    running = make_plan(workspace, editor, accounts, days=1, posts_per_day=1)
    ContentPlan.objects.filter(pk=running.pk).update(status=ContentPlan.Status.RUNNING)

    with pytest.raises(ValidationError, match="nothing is missing"):
        resume_content_plan(plan=done, actor=editor)
    with pytest.raises(ValidationError, match="still being generated"):
        resume_content_plan(plan=running, actor=editor)
    with pytest.raises(PermissionDenied):
        resume_content_plan(plan=running, actor=viewer)


def test_a_plan_without_progress_for_ten_minutes_is_stalled_and_may_be_resumed(workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)
    ContentPlan.objects.filter(pk=plan.pk).update(status=ContentPlan.Status.RUNNING)
    plan.refresh_from_db()
    later = datetime.now(tz=UTC) + timedelta(minutes=11)

    assert not services.is_stalled(plan)
    assert services.is_stalled(plan, now=later)
    assert services.may_resume(plan, now=later)
    progress = services.progress_of(plan, now=later)
    assert (progress.status_label, progress.is_stalled) == ("Stalled", True)

    cache.clear()
    with mock.patch.object(services, "_enqueue"):
        resumed = resume_content_plan(plan=plan, actor=editor, now=later)
    assert resumed.status == ContentPlan.Status.QUEUED


# --------------------------------------------------------------------------- concurrency


def _fake_generated(platforms: list[str]) -> GeneratedPost:
    text = "A fine post about coffee and the people who grow it. What do you think? #coffee"
    return GeneratedPost(
        title="Coffee",
        content=text,
        hashtags=[],
        variants=dict.fromkeys(platforms, text),
        source="ai",
        model_label="fake",
        score=50,
        score_reasons=["Fine."],
        generation_record={"source": "ai", "model": "fake"},
    )


def test_generation_runs_side_by_side_but_never_more_than_the_limit(settings, workspace, editor, accounts):
    settings.LLM_MAX_CONCURRENCY = 3
    lock = threading.Lock()
    state = {"running": 0, "most": 0, "threads": set()}

    def slow_generation(request, attempt=0):
        # No database here: the test's transaction is invisible to the pool's connections.
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
            state["threads"].add(threading.get_ident())
        clock.sleep(0.05)
        with lock:
            state["running"] -= 1
        return _fake_generated(request.platforms)

    plan = make_plan(workspace, editor, accounts, days=4, posts_per_day=3)
    with mock.patch.object(services, "generate_post", side_effect=slow_generation):
        plan = run_content_plan(plan_id=plan.pk)

    assert state["most"] == 3
    assert threading.get_ident() not in state["threads"]
    assert (plan.status, plan.done, plan.failed) == (ContentPlan.Status.DONE, 12, 0)
    assert Post.objects.filter(content_plan=plan, status=Post.Status.PENDING_REVIEW).count() == 12


def test_retries_in_the_pool_are_counted(settings, workspace, editor, accounts):
    from content.ai.client import AIUnavailable

    settings.LLM_MAX_CONCURRENCY = 4
    lock = threading.Lock()
    calls = Counter()

    def flaky(request, attempt=0):
        job = (request.domain_key, attempt, request.prompt)  # one per post of the plan
        with lock:
            calls[job] += 1
            first = calls[job] == 1
        if first:
            raise AIUnavailable("The AI model did not answer (rate limited).")
        return _fake_generated(request.platforms)

    plan = make_plan(workspace, editor, accounts, days=2, posts_per_day=2)
    with mock.patch.object(services, "generate_post", side_effect=flaky):
        plan = run_content_plan(plan_id=plan.pk)

    assert (plan.done, plan.failed, plan.retries) == (4, 0, 4)


def test_the_tasks_time_limit_stops_the_plan_as_failed_keeping_what_was_made(llm_settings, workspace, editor, accounts):
    from celery.exceptions import SoftTimeLimitExceeded

    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=3)
    real_save = services._save
    saved = []

    def save_then_time_out(**kwargs):
        if saved:
            raise SoftTimeLimitExceeded()
        saved.append(real_save(**kwargs))
        return saved[-1]

    with mock.patch.object(services, "_save", side_effect=save_then_time_out):
        plan = run_content_plan(plan_id=plan.pk)

    assert plan.status == ContentPlan.Status.FAILED
    assert plan.error == (
        "Generation stopped: It took longer than the time a plan may take, so it was stopped. 1 of 3 posts were "
        "made; retry the missing posts to finish the plan."
    )
    assert services.may_resume(plan)
