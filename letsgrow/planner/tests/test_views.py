"""The planner's pages: the form, a plan's progress (page and JSON), past plans, retrying; bad input never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.urls import reverse

from content.models import ContentPlan, Post
from letsgrow.planner import services
from letsgrow.planner.services import run_content_plan
from letsgrow.planner.tests.test_services import _tomorrow, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueue():
    with mock.patch("letsgrow.planner.tasks.run_content_plan_task.delay") as delay:
        yield delay


def _url(name: str, workspace, **kwargs) -> str:
    return reverse(f"planner:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def _form_data(chosen, **changes) -> dict[str, object]:
    data = {
        "start_date": _tomorrow().isoformat(),
        "days": "7",
        "posts_per_day": "2",
        "mix_tech": "60",
        "mix_business": "40",
        "accounts": [str(account.pk) for account in chosen],
        "prompt": "Our spring menu",
        "destination": "review",
    }
    data.update(changes)
    return data


def test_the_form_starts_tomorrow_with_every_account_and_an_even_mix(client, workspace, editor, accounts):
    client.force_login(editor)

    response = client.get(_url("new", workspace))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["start_date"] == _tomorrow()
    assert form.initial["days"] == 30
    assert set(form.initial["accounts"]) == {str(account.pk) for account in accounts}
    assert {form.initial["mix_tech"], form.initial["mix_business"]} == {50}
    page = response.content.decode()
    assert 'data-mix="tech"' in page
    assert 'id="mix-total"' in page
    assert "js/planner.js" in page
    assert "read-only" not in page


def test_a_viewer_sees_the_form_read_only_and_cannot_send_it(client, workspace, viewer, accounts, enqueue):
    client.force_login(viewer)

    page = client.get(_url("new", workspace))
    response = client.post(_url("new", workspace), _form_data(accounts))

    assert page.status_code == 200
    assert 'data-testid="read-only"' in page.content.decode()
    assert response.status_code == 403
    assert not ContentPlan.objects.exists()


def test_sending_the_form_creates_the_plan_and_shows_its_progress(
    client, workspace, editor, accounts, enqueue, django_capture_on_commit_callbacks
):
    client.force_login(editor)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("new", workspace), _form_data(accounts))

    plan = ContentPlan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("detail", workspace, pk=plan.pk)
    assert (plan.days, plan.posts_per_day, plan.total) == (7, 2, 14)
    assert plan.domain_mix == {"tech": 60, "business": 40}
    assert plan.prompt == "Our spring menu"
    enqueue.assert_called_once_with(plan.pk)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mix_tech": "60", "mix_business": "30"}, "The shares add up to 90%; make them add up to exactly 100%."),
        ({"mix_tech": "lots"}, "The share of Technology &amp; Innovation must be a whole number."),
        ({"days": "abc"}, "Days must be a whole number."),
        ({"days": "45"}, "Plan between 1 and 31 days."),
        ({"posts_per_day": "0"}, "Make between 1 and 10 posts a day."),
        ({"start_date": "2020-01-01"}, "has passed"),
        ({"start_date": "next tuesday"}, "Give the first day as a date, e.g. 2026-05-01."),
        ({"accounts": []}, "Choose at least one account to post to."),
        ({"accounts": ["999999"]}, "Choose the accounts from the list; one of them is not connected here."),
        ({"destination": "publish-now"}, "Choose where the posts go: the approval queue or drafts."),
        ({"prompt": "x" * 1600}, "Keep the prompt under 1500 characters (it has 1600)."),
    ],
)
def test_bad_input_is_shown_on_the_form_never_a_500(client, workspace, editor, accounts, enqueue, changes, message):
    client.force_login(editor)

    response = client.post(_url("new", workspace), _form_data(accounts, **changes))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ContentPlan.objects.exists()
    enqueue.assert_not_called()


def test_a_workspace_without_accounts_or_domains_is_told_what_to_do_first(client, workspace, editor):
    workspace.content_domains.all().delete()
    client.force_login(editor)

    page = client.get(_url("new", workspace)).content.decode()

    assert 'data-testid="no-domains"' in page
    assert 'data-testid="no-accounts"' in page


def test_the_plan_page_shows_progress_and_the_posts_it_made(llm_settings, client, workspace, editor, accounts):
    plan = run_content_plan(plan_id=make_plan(workspace, editor, accounts, days=1, posts_per_day=2).pk)
    client.force_login(editor)

    response = client.get(_url("detail", workspace, pk=plan.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="plan-status"' in page
    assert _url("progress", workspace, pk=plan.pk) in page
    assert 'data-plan-finished="1"' in page
    assert "http-equiv" not in page  # finished: no refresh
    assert "100%" in page
    for post in Post.objects.filter(content_plan=plan):
        assert reverse("publishing:post_detail", kwargs={"workspace_slug": workspace.slug, "pk": post.pk}) in page
    assert 'data-testid="resume-form"' not in page  # nothing is missing


def test_a_plan_in_progress_refreshes_itself_without_javascript(client, workspace, editor, accounts):
    plan = make_plan(workspace, editor, accounts)
    client.force_login(editor)

    page = client.get(_url("detail", workspace, pk=plan.pk)).content.decode()

    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert 'data-plan-finished="0"' in page
    assert 'data-testid="no-posts-yet"' in page


def test_the_progress_json(client, workspace, viewer, editor, accounts):
    plan = make_plan(workspace, editor, accounts, days=2, posts_per_day=2)
    ContentPlan.objects.filter(pk=plan.pk).update(status="running", done=1, failed=1, retries=3, error="One failed.")
    client.force_login(viewer)

    response = client.get(_url("progress", workspace, pk=plan.pk))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "status": "running",
        "status_label": "Generating",
        "total": 4,
        "done": 1,
        "failed": 1,
        "retries": 3,
        "error": "One failed.",
        "percent": 50,
        "finished": False,
        "stalled": False,
    }


def test_a_stalled_plan_offers_to_retry_the_missing_posts(client, workspace, editor, accounts, enqueue):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)
    # Started eleven minutes ago, and nothing since.
    ContentPlan.objects.filter(pk=plan.pk).update(
        status="running", created_at=datetime.now(tz=UTC) - timedelta(minutes=11)
    )
    cache.delete(services.PROGRESS_KEY.format(pk=plan.pk))
    client.force_login(editor)

    page = client.get(_url("detail", workspace, pk=plan.pk)).content.decode()
    response = client.post(_url("resume", workspace, pk=plan.pk))

    assert 'data-testid="stalled"' in page
    assert "Retry the missing posts (2)" in page
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == ContentPlan.Status.QUEUED


def test_retrying_a_failed_plan_queues_it_again(client, workspace, editor, accounts, enqueue):
    plan = make_plan(workspace, editor, accounts, days=1, posts_per_day=2)
    ContentPlan.objects.filter(pk=plan.pk).update(status="failed", error="The model was down.")
    client.force_login(editor)

    page = client.get(_url("detail", workspace, pk=plan.pk)).content.decode()
    response = client.post(_url("resume", workspace, pk=plan.pk), follow=True)

    assert "The model was down." in page
    assert 'data-testid="resume-form"' in page
    assert "Generating the missing posts again." in response.content.decode()
    plan.refresh_from_db()
    assert (plan.status, plan.error) == (ContentPlan.Status.QUEUED, "")


def test_retrying_a_complete_plan_says_nothing_is_missing(llm_settings, client, workspace, editor, accounts):
    plan = run_content_plan(plan_id=make_plan(workspace, editor, accounts, days=1, posts_per_day=1).pk)
    client.force_login(editor)

    response = client.post(_url("resume", workspace, pk=plan.pk), follow=True)

    assert "Every post of this plan has been made: nothing is missing." in response.content.decode()


def test_a_viewer_cannot_retry(client, workspace, viewer, editor, accounts):
    plan = make_plan(workspace, editor, accounts)
    ContentPlan.objects.filter(pk=plan.pk).update(status="failed")
    client.force_login(viewer)

    page = client.get(_url("detail", workspace, pk=plan.pk)).content.decode()
    response = client.post(_url("resume", workspace, pk=plan.pk))

    assert 'data-testid="resume-form"' not in page
    assert response.status_code == 403
    plan.refresh_from_db()
    assert plan.status == ContentPlan.Status.FAILED


def test_past_plans_are_listed_newest_first(client, workspace, viewer, editor, accounts):
    older = make_plan(workspace, editor, accounts, days=3)
    newer = make_plan(workspace, editor, accounts, days=5)
    client.force_login(viewer)

    response = client.get(_url("list", workspace))

    assert response.status_code == 200
    assert [plan.pk for plan in response.context["plans"]] == [newer.pk, older.pk]
    assert _url("detail", workspace, pk=older.pk) in response.content.decode()


def test_pages_need_a_login(client, workspace):
    response = client.get(_url("new", workspace))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_an_unknown_plan_is_404(client, workspace, editor):
    client.force_login(editor)

    assert client.get(_url("detail", workspace, pk=987654)).status_code == 404
    assert client.get(_url("progress", workspace, pk=987654)).status_code == 404
    assert client.post(_url("resume", workspace, pk=987654)).status_code == 404
