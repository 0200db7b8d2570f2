"""Dashboards and reports. Thin: read selectors, render."""

from __future__ import annotations

from django.views.generic import TemplateView

from accounts.permissions import Action, can
from accounts.views.mixins import WorkspaceMixin
from billing.limits import plan_for
from content.models import ContentDomain
from publishing.models import AutomationSettings


class DashboardView(WorkspaceMixin, TemplateView):
    template_name = "analytics/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        workspace = self.workspace
        role = self.membership.role
        context.update(
            plan=plan_for(workspace),
            domains=list(ContentDomain.objects.for_workspace(workspace).values_list("name", flat=True)),
            automation=AutomationSettings.objects.for_workspace(workspace).first(),
            member_count=workspace.memberships.count(),
            can_manage_settings=can(role, Action.MANAGE_SETTINGS),
            can_manage_members=can(role, Action.MANAGE_MEMBERS),
        )
        return context
