"""`manage.py seed_review_queue`: loads a realistic queue into throw-away workspaces, measures it, removes it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from accounts.models import User, Workspace
from content.models import Post
from publishing.models import PostTarget, SocialAccount
from publishing.tests.factories import PostFactory
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _run(*args: str) -> str:
    out = StringIO()
    call_command("seed_review_queue", *args, stdout=out)
    return out.getvalue()


def test_it_loads_a_mixed_queue_into_marked_workspaces_only(settings):
    kept = PostFactory(workspace=WorkspaceFactory(name="A customer"), status=Post.Status.PENDING_REVIEW)

    output = _run("--posts", "300", "--workspaces", "4", "--chunk", "120")

    assert "Created 300 posts awaiting review in 4 workspaces" in output
    loaded = Post.objects.filter(workspace__name__startswith="Review load ")
    assert loaded.count() == 300
    assert set(loaded.values_list("status", flat=True)) == {Post.Status.PENDING_REVIEW}
    assert set(loaded.values_list("source", flat=True)) == set(Post.Source.values)
    assert loaded.filter(submitted_at__isnull=True).count() == 0
    assert loaded.values("author").distinct().count() >= 4
    assert Workspace.objects.filter(name__startswith="Review load ", slug__startswith="review-load-").count() == 4
    targets = PostTarget.objects.filter(post__in=loaded)
    assert 300 <= targets.count() <= 900
    assert targets.filter(workspace_id__in=loaded.values("workspace_id")).count() == targets.count()
    assert (
        SocialAccount.objects.filter(workspace__name__startswith="Review load ").values("platform").distinct().count()
        > 2
    )
    assert Post.objects.filter(pk=kept.pk).exists()


def test_it_refuses_to_load_twice_and_delete_removes_only_what_it_made():
    customer = WorkspaceFactory(name="Review load lookalike", slug="a-real-customer")
    _run("--posts", "50", "--workspaces", "2")

    with pytest.raises(CommandError, match="run with --delete first"):
        _run("--posts", "10")
    output = _run("--delete")

    assert "Deleted 2 workspaces, 50 posts" in output
    assert not Post.objects.filter(workspace__slug__startswith="review-load-").exists()
    assert not User.objects.filter(email__endswith="@example.invalid").exists()
    assert Workspace.objects.filter(pk=customer.pk).exists()


def test_measure_renders_every_case_of_the_queue():
    _run("--posts", "120", "--workspaces", "3")

    output = _run("--measure", "--repeat", "1")

    from django.db import connection

    assert f"Queue: 120 posts awaiting review; database: {connection.vendor}; 1 renders each." in output
    for case in ("no filter", "workspace filter", "source filter (AI)", "search 'sourdough'", "page 3"):
        assert case in output
    assert " 50 rows" in output


@pytest.mark.parametrize("args", [(), ("--posts", "-1"), ("--posts", "5", "--workspaces", "0")])
def test_it_says_what_is_wrong_with_its_arguments(args):
    with pytest.raises(CommandError):
        _run(*args)
