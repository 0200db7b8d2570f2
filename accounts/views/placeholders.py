"""Temporary pages so every URL the shell links to resolves. Replaced by the real views."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView


class PlaceholderView(LoginRequiredMixin, TemplateView):
    template_name = "base.html"
