from __future__ import annotations

import pytest
from django.urls import reverse

from content.services import set_workspace_domains
from publishing.services import ensure_automation_settings
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_the_dashboard_summarises_plan_domains_automation_and_team(client):
    membership = MembershipFactory(role="owner")
    workspace = membership.workspace
    set_workspace_domains(workspace=workspace, built_in_keys=["memes", "tech"], custom_names=[])
    ensure_automation_settings(workspace=workspace)
    client.force_login(membership.user)

    response = client.get(reverse("analytics:dashboard", kwargs={"workspace_slug": workspace.slug}))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Free plan" in html
    assert "Memes &amp; Humor" in html and "Technology &amp; Innovation" in html
    assert "Review before posting" in html
    assert "Continue setup" in html  # onboarding not finished
    assert reverse("accounts:members", kwargs={"workspace_slug": workspace.slug}) in html


def test_a_viewer_sees_no_settings_link(client):
    membership = MembershipFactory(role="viewer")
    client.force_login(membership.user)

    response = client.get(reverse("analytics:dashboard", kwargs={"workspace_slug": membership.workspace.slug}))

    settings_url = reverse("accounts:workspace_settings", kwargs={"workspace_slug": membership.workspace.slug})
    assert response.status_code == 200
    assert f'href="{settings_url}"><i' not in response.content.decode()
