"""The wizard's progress: saved as the furthest step, started once per owner."""

from __future__ import annotations

import pytest

from accounts.models import Membership, Workspace
from accounts.onboarding import advance_onboarding, has_reached
from billing.models import Subscription
from letsgrow.onboarding.services import start_onboarding
from letsgrow.onboarding.steps import default_workspace_name, even_mix
from publishing.models import AutomationSettings
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_advance_onboarding_moves_forward_and_saves():
    workspace = WorkspaceFactory()

    advance_onboarding(workspace=workspace, to="domains")

    workspace.refresh_from_db()
    assert workspace.onboarding_step == "domains"
    assert workspace.onboarding_completed_at is None


def test_advance_onboarding_never_moves_backwards():
    workspace = WorkspaceFactory(onboarding_step="automation")

    returned = advance_onboarding(workspace=workspace, to="platforms")

    workspace.refresh_from_db()
    assert workspace.onboarding_step == "automation"
    assert returned.onboarding_step == "automation"


def test_reaching_done_stamps_the_completion_once():
    workspace = WorkspaceFactory(onboarding_step="automation")

    advance_onboarding(workspace=workspace, to="done")
    completed_at = Workspace.objects.get(pk=workspace.pk).onboarding_completed_at
    advance_onboarding(workspace=workspace, to="done")

    workspace.refresh_from_db()
    assert workspace.is_onboarded is True
    assert completed_at is not None
    assert workspace.onboarding_completed_at == completed_at


def test_advance_onboarding_rejects_an_unknown_step_and_changes_nothing():
    workspace = WorkspaceFactory(onboarding_step="platforms")

    with pytest.raises(ValueError, match=r"^'billing' is not an onboarding step\.$"):
        advance_onboarding(workspace=workspace, to="billing")

    workspace.refresh_from_db()
    assert workspace.onboarding_step == "platforms"


def test_has_reached_compares_with_the_furthest_step():
    workspace = WorkspaceFactory(onboarding_step="domains")

    assert [has_reached(workspace, step) for step in ("welcome", "platforms", "domains", "automation", "done")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_start_onboarding_creates_a_free_workspace_at_the_platforms_step():
    owner = UserFactory()

    workspace = start_onboarding(owner=owner, name="Acme Coffee")

    assert (workspace.name, workspace.slug, workspace.onboarding_step) == ("Acme Coffee", "acme-coffee", "platforms")
    assert Membership.objects.get(workspace=workspace).user == owner
    assert Membership.objects.get(workspace=workspace).role == "owner"
    assert Subscription.objects.get(workspace=workspace).plan == "free"
    assert AutomationSettings.objects.get(workspace=workspace).review_before_posting is True


def test_start_onboarding_returns_the_unfinished_workspace_instead_of_a_duplicate():
    owner = UserFactory()
    first = start_onboarding(owner=owner, name="Acme Coffee")

    second = start_onboarding(owner=owner, name="Another name")

    assert second.pk == first.pk
    assert Workspace.objects.count() == 1
    assert Subscription.objects.count() == 1


def test_start_onboarding_ignores_unfinished_workspaces_the_user_only_belongs_to():
    user = UserFactory()
    MembershipFactory(user=user, role="viewer", workspace=WorkspaceFactory(onboarding_step="platforms"))

    workspace = start_onboarding(owner=user, name="Mine")

    assert workspace.name == "Mine"
    assert Membership.objects.get(workspace=workspace, user=user).role == "owner"


@pytest.mark.parametrize(
    ("keys", "mix"),
    [
        ([], {}),
        (["memes"], {"memes": 100}),
        (["memes", "tech"], {"memes": 50, "tech": 50}),
        (["a", "b", "c"], {"a": 34, "b": 33, "c": 33}),
        (["a", "b", "c", "d", "e", "f"], {"a": 20, "b": 16, "c": 16, "d": 16, "e": 16, "f": 16}),
    ],
)
def test_even_mix_puts_the_remainder_on_the_first_domain(keys, mix):
    assert even_mix(keys) == mix


@pytest.mark.parametrize(
    ("name", "email", "expected"),
    [
        ("Ann Lee", "ann@example.com", "Ann's workspace"),
        ("", "bob.smith@example.com", "bob.smith's workspace"),
    ],
)
def test_default_workspace_name(name, email, expected):
    assert default_workspace_name(UserFactory(name=name, email=email)) == expected
