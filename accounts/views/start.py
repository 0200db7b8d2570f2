"""Where a logged-in user lands: their last workspace, or setting one up."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views import View

from accounts.models import Membership


class StartView(LoginRequiredMixin, View):
    def get(self, request):
        memberships = Membership.objects.filter(user=request.user).select_related("workspace")
        membership = (
            memberships.filter(workspace_id=request.session.get("workspace_id")).first()
            or memberships.order_by("-last_used_at", "created_at").first()
        )
        if membership is None:
            return redirect(_url_or("onboarding:start", "home"))
        workspace = membership.workspace
        if not workspace.is_onboarded:
            return redirect(_url_or("onboarding:resume", "analytics:dashboard", workspace_slug=workspace.slug))
        return redirect("analytics:dashboard", workspace_slug=workspace.slug)


def _url_or(name: str, fallback: str, **kwargs) -> str:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return reverse(fallback, kwargs=kwargs or None)
