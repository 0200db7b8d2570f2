"""Dashboards and reports. Thin: read selectors, render."""

from __future__ import annotations

from django.views.generic import TemplateView

from accounts.views.mixins import WorkspaceMixin


class DashboardView(WorkspaceMixin, TemplateView):
    template_name = "analytics/dashboard.html"
