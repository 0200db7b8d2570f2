from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from content.models import Post
from publishing.models import PostEvent, PostTarget
from publishing.tests.factories import PostFactory, PostTargetFactory
from publishing.transitions import (
    POST_ALLOWED,
    TARGET_ALLOWED,
    InvalidTransition,
    TransitionConflict,
    refresh_rollup,
    rollup_status,
    transition,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
POST_PAIRS = list(itertools.product(PS.values, PS.values))
TARGET_PAIRS = list(itertools.product(TS.values, TS.values))


def test_every_status_has_a_rule():
    assert set(POST_ALLOWED) == set(PS.values)
    assert set(TARGET_ALLOWED) == set(TS.values)


@pytest.mark.parametrize(("start", "to"), POST_PAIRS, ids=[f"{a}->{b}" for a, b in POST_PAIRS])
def test_post_transitions_follow_the_table(start, to):
    post = PostFactory(status=start)
    actor = UserFactory()

    if to in POST_ALLOWED[start]:
        transition(post, to, actor=actor, reason="because")
        post.refresh_from_db()
        assert post.status == to
        event = PostEvent.objects.get(post=post)
        assert (event.from_status, event.to_status, event.actor, event.reason, event.target) == (
            start,
            to,
            actor,
            "because",
            None,
        )
    else:
        with pytest.raises(InvalidTransition):
            transition(post, to, actor=actor)
        post.refresh_from_db()
        assert post.status == start
        assert not PostEvent.objects.exists()


@pytest.mark.parametrize(("start", "to"), TARGET_PAIRS, ids=[f"{a}->{b}" for a, b in TARGET_PAIRS])
def test_target_transitions_follow_the_table(start, to):
    target = PostTargetFactory(status=start)

    if to in TARGET_ALLOWED[start]:
        transition(target, to, actor_label="dispatcher", reason="tick")
        target.refresh_from_db()
        assert target.status == to
        event = PostEvent.objects.get(target=target)
        assert (event.post_id, event.from_status, event.to_status, event.actor_label) == (
            target.post_id,
            start,
            to,
            "dispatcher",
        )
    else:
        with pytest.raises(InvalidTransition):
            transition(target, to)
        target.refresh_from_db()
        assert target.status == start
        assert not PostEvent.objects.exists()


def test_a_stale_status_loses_the_compare_and_set():
    target = PostTargetFactory(status=TS.SCHEDULED)
    other_view = PostTarget.objects.get(pk=target.pk)
    transition(target, TS.PUBLISHING, claimed_by="worker-1")

    with pytest.raises(TransitionConflict):
        transition(other_view, TS.PUBLISHING, claimed_by="worker-2")

    target.refresh_from_db()
    assert target.claimed_by == "worker-1"
    assert PostEvent.objects.filter(target=target).count() == 1


def test_changes_are_written_in_the_same_update():
    target = PostTargetFactory(status=TS.PUBLISHING)

    transition(target, TS.PUBLISHED, remote_id="123", remote_url="https://x.com/a/status/123")

    target.refresh_from_db()
    assert (target.status, target.remote_id, target.remote_url) == (
        TS.PUBLISHED,
        "123",
        "https://x.com/a/status/123",
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([TS.PENDING, TS.PENDING], None),
        ([TS.SCHEDULED, TS.SCHEDULED], PS.SCHEDULED),
        ([TS.SCHEDULED, TS.PUBLISHING], PS.PUBLISHING),
        ([TS.PUBLISHED, TS.PUBLISHED], PS.PUBLISHED),
        ([TS.PUBLISHED, TS.SCHEDULED], PS.PARTIALLY_PUBLISHED),
        ([TS.PUBLISHED, TS.FAILED], PS.PARTIALLY_PUBLISHED),
        ([TS.FAILED, TS.MISSED], PS.FAILED),
        ([TS.UNCONFIRMED, TS.FAILED], PS.SCHEDULED),
        ([TS.PUBLISHED, TS.CANCELLED], PS.PUBLISHED),
    ],
)
def test_rollup(statuses, expected):
    assert rollup_status(statuses) == expected


def test_refresh_rollup_moves_the_post_and_records_it():
    post = PostFactory(status=PS.SCHEDULED)
    PostTargetFactory(post=post, status=TS.PUBLISHED)
    PostTargetFactory(post=post, status=TS.FAILED)

    refresh_rollup(post)

    post.refresh_from_db()
    assert post.status == PS.PARTIALLY_PUBLISHED
    assert PostEvent.objects.get(post=post, target=None).actor_label == "roll-up"


STATUS_MODELS = ("Post", "PostTarget")


def _root_name(node: ast.AST) -> str:
    """The name a call chain starts from: `Post` in `Post.objects.filter(…).update`, `qs` in `qs.update`."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _may_be_lifecycle(name: str) -> bool:
    # Other models have statuses of their own (ContentPlan, Document, SocialAccount …): a chain or a
    # variable named after one of them is theirs; anything else could be a post or a target.
    others = ("plan", "document", "account", "subscription", "stop")
    is_other = name[:1].isupper() or any(other in name.lower() for other in others)
    return name in STATUS_MODELS or not is_other


def _assigns_status_outside_the_state_machine(path: Path) -> list[str]:
    """Lines that set `.status = …` or pass `status=` to update() on what may be a post or a target."""
    problems = []
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                is_status = isinstance(target, ast.Attribute) and target.attr == "status"
                if is_status and _may_be_lifecycle(_root_name(target.value)):
                    problems.append(f"{path}:{node.lineno}: assigns .status")
        is_update = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"
        if is_update and any(k.arg == "status" for k in node.keywords) and _may_be_lifecycle(_root_name(node.func)):
            problems.append(f"{path}:{node.lineno}: update(status=…)")
    return problems


def _imports_a_status_model(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and any(alias.name in STATUS_MODELS for alias in node.names):
            return True
    return False


def test_nothing_else_assigns_a_status():
    root = Path(__file__).resolve().parents[2]
    allowed = {root / "publishing" / "transitions.py"}
    problems = []
    for app in ("content", "publishing", "analytics", "billing", "letsgrow"):
        for path in (root / app).rglob("*.py"):
            if path in allowed or "tests" in path.parts or "migrations" in path.parts or "emulator" in path.parts:
                continue
            problems += _assigns_status_outside_the_state_machine(path)
    # Other models have statuses of their own (SocialAccount, Subscription, Document): only flag
    # files that import the post lifecycle models.
    problems = [p for p in problems if _imports_a_status_model(Path(p.split(":")[0]))]
    assert problems == []
