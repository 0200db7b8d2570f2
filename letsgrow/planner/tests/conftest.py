"""Fixtures of the planner's tests: the local LLM stub over real HTTP, and a workspace ready to plan."""

from __future__ import annotations

import pytest

from accounts.models import Membership
from billing.models import Subscription
from content.domains import BUILT_IN_DOMAINS
from content.models import ContentDomain
from publishing.tests.factories import SocialAccountFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

STUB_MODEL = "stub-model"


@pytest.fixture(scope="session")
def _planner_llm_server():
    from content.llm_stub import serve_in_thread

    server, base_url, control = serve_in_thread()
    yield server, base_url, control
    server.shutdown()


@pytest.fixture
def llm_stub(_planner_llm_server):
    """The stub, reset: every request answers "ok" until scripted. Returns its StubControl (`.server` set)."""
    server, base_url, control = _planner_llm_server
    control.reset()
    control.base_url = base_url
    control.server = server
    yield control
    control.reset()


@pytest.fixture
def llm_settings(llm_stub, settings):
    """The server's model is the stub, with no fallback (a failed call is a failed attempt); one call at a time."""
    settings.LLM_BASE_URL = llm_stub.base_url
    settings.LLM_MODEL = STUB_MODEL
    settings.LLM_API_KEY = "planner-test-key"
    settings.LLM_FALLBACK_BASE_URL = ""
    settings.LLM_TIMEOUT_SECONDS = 5.0
    # One at a time, on the test's own connection: other connections cannot see the test's transaction.
    settings.LLM_MAX_CONCURRENCY = 1
    return settings


@pytest.fixture
def no_llm(settings):
    settings.LLM_BASE_URL = ""
    settings.LLM_FALLBACK_BASE_URL = ""
    settings.LLM_MAX_CONCURRENCY = 1
    return settings


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    """Retries without the pause between them: the tests count retries, not seconds."""
    from letsgrow.planner import services

    monkeypatch.setattr(services, "BACKOFF_SECONDS", (0.0, 0.0))


def add_domains(workspace, keys=("tech", "business")):
    for key in keys:
        spec = BUILT_IN_DOMAINS[key]
        ContentDomain.objects.create(
            workspace=workspace,
            key=key,
            name=spec.name,
            description=spec.description,
            audience=spec.audience,
            tone=spec.tone,
            sample_posts=list(spec.sample_posts),
        )


@pytest.fixture
def workspace():
    """A Pro workspace (10 posts a day) in Berlin time with two domains and an X and a LinkedIn account."""
    workspace = WorkspaceFactory(timezone="Europe/Berlin")
    Subscription.objects.create(workspace=workspace, plan="pro")
    add_domains(workspace)
    return workspace


@pytest.fixture
def editor(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(), role=Membership.Role.EDITOR).user


@pytest.fixture
def viewer(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(), role=Membership.Role.VIEWER).user


@pytest.fixture
def accounts(workspace):
    return [
        SocialAccountFactory(workspace=workspace, platform="x", handle="cafe_x"),
        SocialAccountFactory(workspace=workspace, platform="linkedin", handle="cafe_li"),
    ]
