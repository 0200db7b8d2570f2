"""Tenant isolation, walked over every URL: another workspace's objects are 404, viewers cannot write.

The walk finds every URL pattern (site and API) that takes a workspace or an
object id. Each id kwarg must have a builder below that makes such an object in
*another* workspace; a new endpoint without one fails `test_every_id_url_is_walked`,
so no URL escapes the walk.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.models import Membership, Workspace
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

# Namespaces that hold no workspace data (allauth's own pages, Django admin).
SKIPPED_NAMESPACES = {"admin", "djdt"}
# Writes a viewer may make: leaving a workspace is anyone's right.
VIEWER_MAY_WRITE = {"accounts:workspace_leave"}
# Kwargs that do not name workspace data.
NON_ID_KWARGS = {"format", "token", "key", "uidb36", "step", "platform"}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    route: str
    kwargs: tuple[str, ...]


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            route = prefix + str(entry.pattern)
            kwargs = tuple(sorted(_kwargs_of(route)))
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(name=name, route=route, kwargs=kwargs)


def _kwargs_of(route: str) -> set[str]:
    import re

    return set(re.findall(r"<(?:\w+:)?(\w+)>", route)) | set(re.findall(r"\(\?P<(\w+)>", route))


def workspace_routes() -> list[Route]:
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        if route.name.split(":")[0] in SKIPPED_NAMESPACES:
            continue
        if "workspace_slug" in route.kwargs and not (set(route.kwargs) & {"format"}):
            seen.setdefault(route.name, route)
    return sorted(seen.values(), key=lambda r: r.name)


# --- builders: make an object of `workspace` for an id kwarg of a URL -------------------


def _member_of(workspace: Workspace) -> dict[str, object]:
    return {"pk": MembershipFactory(workspace=workspace, role=Membership.Role.EDITOR).pk}


def _invitation_of(workspace: Workspace) -> dict[str, object]:
    from accounts.models import Invitation

    owner = workspace.memberships.get(role=Membership.Role.OWNER).user
    invitation = Invitation.objects.create(
        workspace=workspace,
        email="someone@example.com",
        role="editor",
        token_hash=f"{workspace.pk:064d}",
        invited_by=owner,
    )
    return {"pk": invitation.pk}


def _api_key_of(workspace: Workspace) -> dict[str, object]:
    from accounts.models import ApiKey

    key = ApiKey.objects.create(
        workspace=workspace, name="k", prefix=f"p{workspace.pk}", key_hash=f"{workspace.pk:064d}", role="editor"
    )
    return {"pk": key.pk}


def _connection_of(workspace: Workspace) -> dict[str, object]:
    from publishing.models import SocialAccount

    account = SocialAccount.objects.create(
        workspace=workspace, platform="x", account_id=f"acct-{workspace.pk}", handle=f"handle{workspace.pk}"
    )
    return {"pk": account.pk}


def _post_of(workspace: Workspace) -> dict[str, object]:
    from content.models import Post

    return {"pk": Post.objects.create(workspace=workspace, text=f"A post of {workspace.slug}").pk}


def _target_of(workspace: Workspace) -> dict[str, object]:
    from content.models import Post
    from publishing.models import PostTarget, SocialAccount

    post = Post.objects.create(workspace=workspace, text=f"A post of {workspace.slug}")
    account = SocialAccount.objects.create(
        workspace=workspace, platform="x", account_id=f"target-acct-{workspace.pk}", handle=f"t{workspace.pk}"
    )
    target = PostTarget.objects.create(
        workspace=workspace, post=post, social_account=account, status=PostTarget.Status.FAILED
    )
    return {"pk": target.pk}


# URL name → builder for its id kwargs. Keys are matched by the URL's name.
ID_BUILDERS: dict[str, Callable[[Workspace], dict[str, object]]] = {
    "publishing:reconnect": _connection_of,
    "publishing:disconnect": _connection_of,
    "publishing:post_detail": _post_of,
    "publishing:post_cancel": _post_of,
    "publishing:target_retry": _target_of,
}

# Each feature area keeps its builders next to its own tests (a module with an ID_BUILDERS dict),
# so parallel work does not edit this file. A listed module that does not exist yet is skipped.
for _module_name in (
    "content.tests.isolation_media",
    "content.tests.isolation_documents",
    "content.tests.isolation_ai",
    "content.tests.isolation_composer",
    "letsgrow.planner.tests.isolation",
    "publishing.tests.isolation_review",
):
    try:
        _exists = importlib.util.find_spec(_module_name) is not None
    except ModuleNotFoundError:  # a parent package does not exist yet
        _exists = False
    if _exists:
        ID_BUILDERS.update(importlib.import_module(_module_name).ID_BUILDERS)


def _builder_for(route: Route) -> Callable[[Workspace], dict[str, object]] | None:
    if set(route.kwargs) - NON_ID_KWARGS == {"workspace_slug"}:
        return lambda ws: {}
    if route.name in ID_BUILDERS:
        return ID_BUILDERS[route.name]
    name = route.name.rsplit(":", 1)[-1]
    for marker, builder in (("member", _member_of), ("invitation", _invitation_of), ("api_key", _api_key_of)):
        if marker in name.replace("-", "_"):
            return builder
    return None


def _step_kwargs(route: Route) -> dict[str, object]:
    """Values for kwargs that name no object (a wizard step, a platform)."""
    fixed = {"step": "domains", "platform": "x"}
    return {name: value for name, value in fixed.items() if name in route.kwargs}


@pytest.fixture
def two_workspaces():
    me = UserFactory()
    mine = WorkspaceFactory()
    MembershipFactory(user=me, workspace=mine, role=Membership.Role.OWNER)
    other = WorkspaceFactory()
    MembershipFactory(user=UserFactory(), workspace=other, role=Membership.Role.OWNER)
    return me, mine, other


def test_every_id_url_is_walked():
    routes = workspace_routes()

    missing = [r.name for r in routes if _builder_for(r) is None]

    assert routes, "the walk found no workspace URLs"
    assert missing == [], f"add a builder to ID_BUILDERS for: {missing}"


@pytest.mark.parametrize("route", workspace_routes(), ids=lambda r: r.name)
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_a_member_of_one_workspace_gets_404_for_another_workspaces_objects(route, method, two_workspaces):
    me, _mine, other = two_workspaces
    kwargs = {"workspace_slug": other.slug, **_builder_for(route)(other), **_step_kwargs(route)}
    url = reverse(route.name, kwargs=kwargs)
    client = APIClient()
    client.force_login(me)

    response = getattr(client, method)(url)

    assert response.status_code == 404, f"{method.upper()} {url} → {response.status_code}"


@pytest.mark.parametrize("route", workspace_routes(), ids=lambda r: r.name)
def test_my_own_ids_in_another_workspaces_url_are_404(route, two_workspaces):
    me, mine, other = two_workspaces
    builder = _builder_for(route)
    own_ids = builder(mine)
    if not own_ids:
        pytest.skip("takes no object id")
    # I am a member of `other` too, but the object belongs to `mine`.
    MembershipFactory(user=me, workspace=other, role=Membership.Role.ADMIN)
    url = reverse(route.name, kwargs={"workspace_slug": other.slug, **own_ids, **_step_kwargs(route)})
    client = APIClient()
    client.force_login(me)

    # A write-only URL may answer GET with 405 (it reveals nothing); anything else is 404.
    assert client.get(url).status_code in (404, 405)
    assert client.post(url).status_code == 404


@pytest.mark.parametrize("route", workspace_routes(), ids=lambda r: r.name)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_viewer_cannot_write(route, method, two_workspaces):
    if route.name in VIEWER_MAY_WRITE:
        pytest.skip("a viewer may do this")
    _me, mine, _other = two_workspaces
    viewer = UserFactory()
    MembershipFactory(user=viewer, workspace=mine, role=Membership.Role.VIEWER)
    kwargs = {"workspace_slug": mine.slug, **_builder_for(route)(mine), **_step_kwargs(route)}
    url = reverse(route.name, kwargs=kwargs)
    client = APIClient()
    client.force_login(viewer)

    response = getattr(client, method)(url)

    # 403: not allowed; 405: the URL takes no writes at all.
    assert response.status_code in (403, 405), f"{method.upper()} {url} → {response.status_code}"
