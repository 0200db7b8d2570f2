"""API key pages: list, create (the key is shown once) and revoke. Admins and owners only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views import View

from accounts.api_keys import create_api_key, revoke_api_key
from accounts.models import ApiKey
from accounts.permissions import Action
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Say what uses it, e.g. “Zapier” or “Reporting script”.")
    role = forms.ChoiceField(choices=ApiKey.Role.choices, initial=ApiKey.Role.EDITOR)


class ApiKeyListView(WorkspaceMixin, View):
    """GET: the workspace's keys and a form; POST: create a key and show it, this once."""

    required_action = Action.MANAGE_API_KEYS
    template_name = "accounts/api_keys.html"

    def get(self, request, workspace_slug):
        return self._render(ApiKeyForm())

    def post(self, request, workspace_slug):
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        api_key, raw_key = create_api_key(
            workspace=self.workspace,
            created_by=request.user,
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
        )
        # Rendered, not redirected: the raw key must not sit in the session or a
        # message store to survive a redirect. The one copy is this response.
        response = self._render(ApiKeyForm(), new_key=api_key, raw_key=raw_key)
        add_never_cache_headers(response)
        return response

    def _render(self, form, *, new_key=None, raw_key=None, status=200):
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "form": form,
            "api_keys": ApiKey.objects.for_workspace(self.workspace).select_related("created_by"),
            "new_key": new_key,
            "raw_key": raw_key,
        }
        return render(self.request, self.template_name, context, status=status)


class ApiKeyRevokeView(WorkspaceMixin, View):
    """POST: revoke a key of this workspace."""

    required_action = Action.MANAGE_API_KEYS

    def get(self, request, workspace_slug, pk):
        # Look the key up first, so another workspace's id is 404 for every method.
        get_scoped_or_404(ApiKey, self.workspace, pk=pk)
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, workspace_slug, pk):
        api_key = get_scoped_or_404(ApiKey, self.workspace, pk=pk)
        revoke_api_key(api_key=api_key, actor=request.user)
        messages.success(request, f"The key “{api_key.name}” is revoked: requests using it now get 401.")
        return redirect("accounts:api_keys", workspace_slug=self.workspace.slug)
