"""Creating a workspace and its settings page (rename, time zone, delete). Thin: parse, call a service, redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views import View

from accounts import services
from accounts.forms import ConfirmNameForm, WorkspaceForm, add_errors
from accounts.permissions import Action, can
from accounts.views.mixins import WorkspaceMixin


def _after_create_url(workspace_slug: str) -> str:
    # The onboarding wizard lives in another app and may not be wired yet.
    try:
        return reverse("onboarding:resume", kwargs={"workspace_slug": workspace_slug})
    except NoReverseMatch:
        return reverse("analytics:dashboard", kwargs={"workspace_slug": workspace_slug})


class WorkspaceCreateView(LoginRequiredMixin, View):
    template_name = "accounts/workspace_create.html"

    def get(self, request):
        return render(request, self.template_name, {"form": WorkspaceForm()})

    def post(self, request):
        form = WorkspaceForm(request.POST)
        if form.is_valid():
            try:
                workspace = services.create_workspace(
                    owner=request.user, name=form.cleaned_data["name"], timezone=form.cleaned_data["timezone"]
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"Workspace “{workspace.name}” created.")
                return redirect(_after_create_url(workspace.slug))
        return render(request, self.template_name, {"form": form}, status=400)


class _SettingsPage(WorkspaceMixin, View):
    template_name = "accounts/workspace_settings.html"
    required_action = Action.MANAGE_SETTINGS

    def render_page(self, *, form=None, delete_form=None, status: int = 200):
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "form": form or WorkspaceForm(initial={"name": self.workspace.name, "timezone": self.workspace.timezone}),
            "can_delete": can(self.membership.role, Action.DELETE_WORKSPACE),
            "delete_form": delete_form or ConfirmNameForm(expected=self.workspace.name),
        }
        return render(self.request, self.template_name, context, status=status)


class WorkspaceSettingsView(_SettingsPage):
    def get(self, request, workspace_slug: str):
        return self.render_page()

    def post(self, request, workspace_slug: str):
        form = WorkspaceForm(request.POST)
        if form.is_valid():
            try:
                services.update_workspace(
                    workspace=self.workspace,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    timezone=form.cleaned_data["timezone"],
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, "Workspace settings saved.")
                return redirect("accounts:workspace_settings", workspace_slug=self.workspace.slug)
        return self.render_page(form=form, status=400)


class WorkspaceDeleteView(_SettingsPage):
    http_method_names = ["post"]
    write_action = Action.DELETE_WORKSPACE

    def post(self, request, workspace_slug: str):
        delete_form = ConfirmNameForm(request.POST, expected=self.workspace.name)
        if delete_form.is_valid():
            try:
                name = services.delete_workspace(workspace=self.workspace, actor=request.user)
            except ValidationError as error:
                add_errors(delete_form, error)
            else:
                request.session.pop("workspace_id", None)
                messages.success(request, f"Workspace “{name}” and everything in it was deleted.")
                return redirect("accounts:start")
        return self.render_page(delete_form=delete_form, status=400)
