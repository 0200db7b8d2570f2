"""A workspace's emergency stop page: every member sees whether publishing is paused; the owner switches it.

Thin: parse the confirmation form, call `publishing.stop.set_emergency_stop`
(which checks the owner rule again and writes the audit record), redirect.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.models import Membership
from accounts.permissions import Action
from accounts.views.mixins import WorkspaceMixin
from publishing.models import EmergencyStop
from publishing.stop import active_stop, set_emergency_stop, stop_reason

HISTORY_LENGTH = 10


class EmergencyStopForm(forms.Form):
    """Turn the stop on or off; typing the workspace's name confirms it."""

    active = forms.TypedChoiceField(
        choices=[("on", "Stop publishing"), ("off", "Resume publishing")],
        coerce=lambda value: value == "on",
        widget=forms.HiddenInput,
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Why (shown to your team in the banner)",
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}),
    )
    confirm_name = forms.CharField(
        label="Type the workspace's name to confirm",
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.expected:
            raise forms.ValidationError(f"Type “{self.expected}” exactly to confirm.")
        return value


class EmergencyStopView(WorkspaceMixin, View):
    """GET: the stop's state and history. POST: the owner turns it on or off."""

    template_name = "publishing/emergency_stop.html"
    required_action = Action.VIEW
    # Admins pass this gate but not the owner check below; viewers, editors and approvers stop here.
    write_action = Action.MANAGE_SETTINGS

    @property
    def is_owner(self) -> bool:
        return self.membership.role == Membership.Role.OWNER

    def render_page(self, *, form: EmergencyStopForm | None = None, status: int = 200) -> HttpResponse:
        stop = EmergencyStop.objects.filter(workspace=self.workspace).select_related("changed_by").first()
        holding = active_stop(self.workspace)
        is_active = stop is not None and stop.is_active
        history = []
        if stop is not None:
            history = list(
                LogEntry.objects.filter(
                    content_type=ContentType.objects.get_for_model(EmergencyStop), object_id=str(stop.pk)
                )
                .select_related("user")
                .order_by("-action_time", "-pk")[:HISTORY_LENGTH]
            )
        initial = {"active": "off" if is_active else "on"}
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "stop": stop,
            "is_active": is_active,
            "is_global_active": holding is not None and holding.workspace_id is None,
            "global_reason": stop_reason(holding) if holding is not None and holding.workspace_id is None else "",
            "may_change": self.is_owner,
            "form": form or EmergencyStopForm(initial=initial, expected=self.workspace.name),
            "history": history,
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        return self.render_page()

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        if not self.is_owner:
            raise PermissionDenied("Only the workspace owner can turn its emergency stop on or off.")
        form = EmergencyStopForm(request.POST, expected=self.workspace.name)
        if not form.is_valid():
            return self.render_page(form=form, status=400)
        active = form.cleaned_data["active"]
        set_emergency_stop(
            workspace=self.workspace, active=active, actor=request.user, reason=form.cleaned_data["reason"]
        )
        if active:
            messages.warning(
                request, "Emergency stop is on: nothing will be published. Scheduled posts keep their place."
            )
        else:
            messages.success(request, "Emergency stop is off: publishing resumes with the posts that are due.")
        return redirect("publishing:emergency_stop", workspace_slug=self.workspace.slug)
