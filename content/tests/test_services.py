"""Content domains: the plan decides which and how many a workspace may choose."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from billing.models import Subscription
from content.models import ContentDomain
from content.services import set_workspace_domains
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def free_workspace():
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="free")
    return workspace


@pytest.fixture
def pro_workspace():
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="pro")
    return workspace


def _keys(workspace) -> list[str]:
    return sorted(ContentDomain.objects.for_workspace(workspace).values_list("key", flat=True))


def test_free_plan_accepts_memes_and_tech_copying_the_catalogue(free_workspace):
    domains = set_workspace_domains(workspace=free_workspace, built_in_keys=["tech", "memes"], custom_names=[])

    assert [d.key for d in domains] == ["memes", "tech"]
    memes = domains[0]
    assert (memes.name, memes.is_custom, memes.audience, memes.tone) == (
        "Memes & Humor",
        False,
        "General, millennials, Gen Z",
        "Playful",
    )
    assert len(memes.sample_posts) == 1


def test_free_plan_rejects_business_and_saves_nothing(free_workspace):
    with pytest.raises(ValidationError) as excinfo:
        set_workspace_domains(workspace=free_workspace, built_in_keys=["memes", "business"], custom_names=[])

    assert excinfo.value.messages == [
        "Business & Entrepreneurship is not included in the Free plan, which offers "
        "Memes & Humor and Technology & Innovation. Upgrade to use it."
    ]
    assert _keys(free_workspace) == []


def test_free_plan_rejects_a_third_domain_and_keeps_the_saved_ones(free_workspace):
    set_workspace_domains(workspace=free_workspace, built_in_keys=["memes"], custom_names=[])

    with pytest.raises(ValidationError) as excinfo:
        set_workspace_domains(workspace=free_workspace, built_in_keys=["memes", "tech"], custom_names=["Coffee"])

    assert excinfo.value.messages == [
        "Custom domains are not included in the Free plan. Upgrade to add your own.",
        "You chose 3 content domains. The Free plan allows 2 content domains; upgrade to add more.",
    ]
    assert _keys(free_workspace) == ["memes"]


def test_free_plan_rejects_custom_domains(free_workspace):
    with pytest.raises(ValidationError) as excinfo:
        set_workspace_domains(workspace=free_workspace, built_in_keys=["memes"], custom_names=["Coffee"])

    assert excinfo.value.messages == ["Custom domains are not included in the Free plan. Upgrade to add your own."]
    assert _keys(free_workspace) == []


def test_a_workspace_without_subscription_is_held_to_the_free_plan():
    workspace = WorkspaceFactory()

    with pytest.raises(ValidationError):
        set_workspace_domains(workspace=workspace, built_in_keys=["finance"], custom_names=[])

    assert _keys(workspace) == []


def test_pro_plan_accepts_every_built_in_domain_and_custom_ones(pro_workspace):
    domains = set_workspace_domains(
        workspace=pro_workspace,
        built_in_keys=["memes", "tech", "business", "lifestyle", "finance"],
        custom_names=["Local events", " Coffee  roasting ", "local EVENTS"],
    )

    assert [d.key for d in domains if d.is_custom] == ["coffee-roasting", "local-events"]
    assert [d.name for d in domains if d.is_custom] == ["Coffee roasting", "Local events"]
    assert _keys(pro_workspace) == [
        "business",
        "coffee-roasting",
        "finance",
        "lifestyle",
        "local-events",
        "memes",
        "tech",
    ]


def test_saving_again_removes_domains_no_longer_chosen_and_keeps_the_rest(pro_workspace):
    set_workspace_domains(workspace=pro_workspace, built_in_keys=["memes", "tech"], custom_names=["Coffee"])
    tech_pk = ContentDomain.objects.get(workspace=pro_workspace, key="tech").pk

    set_workspace_domains(workspace=pro_workspace, built_in_keys=["tech", "finance"], custom_names=[])

    assert _keys(pro_workspace) == ["finance", "tech"]
    assert ContentDomain.objects.get(workspace=pro_workspace, key="tech").pk == tech_pk


def test_domains_of_other_workspaces_are_untouched(pro_workspace, free_workspace):
    set_workspace_domains(workspace=free_workspace, built_in_keys=["memes"], custom_names=[])

    set_workspace_domains(workspace=pro_workspace, built_in_keys=["finance"], custom_names=[])

    assert _keys(free_workspace) == ["memes"]


@pytest.mark.parametrize(
    ("built_in", "custom", "message"),
    [
        ([], [], "Choose at least one content domain."),
        (["cooking"], [], "“cooking” is not a content domain we offer."),
        ([], ["!!!"], "“!!!” cannot be a domain name: use at least one letter or digit."),
        ([], ["Memes"], "“Memes” is already a built-in domain: tick Memes & Humor instead."),
        ([], ["x" * 81], f"“{'x' * 30}…” is too long for a domain name: use at most 80 characters."),
    ],
)
def test_unusable_choices_are_explained_and_nothing_is_saved(pro_workspace, built_in, custom, message):
    with pytest.raises(ValidationError) as excinfo:
        set_workspace_domains(workspace=pro_workspace, built_in_keys=built_in, custom_names=custom)

    assert excinfo.value.messages == [message]
    assert _keys(pro_workspace) == []
