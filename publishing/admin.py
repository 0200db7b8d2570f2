"""Staff views of connected accounts and Mastodon apps. Tokens and secrets are never shown nor editable.

Connecting, reconnecting and disconnecting go through the connections page and
its services, so the rules (plan, permissions, revocation) stay in one place.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from publishing.models import EmergencyStop, MastodonApp, SocialAccount
from publishing.stop import set_emergency_stop

SECRET_FIELDS = ("access_token", "refresh_token", "app_password")


@admin.register(SocialAccount)
class SocialAccountAdmin(admin.ModelAdmin):
    list_display = ("handle", "platform", "workspace", "status", "token_expires_at", "connected_at")
    list_filter = ("platform", "status")
    search_fields = ("handle", "display_name", "account_id", "workspace__name", "workspace__slug")
    list_select_related = ("workspace",)
    exclude = SECRET_FIELDS
    readonly_fields = (
        "workspace",
        "platform",
        "account_id",
        "handle",
        "display_name",
        "avatar_url",
        "scopes",
        "token_expires_at",
        "config",
        "status",
        "last_error",
        "connected_by",
        "connected_at",
        "updated_at",
    )
    ordering = ("-connected_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # An account without tokens is no account: connecting happens on the site.
        return False


@admin.register(MastodonApp)
class MastodonAppAdmin(admin.ModelAdmin):
    list_display = ("instance", "client_id", "redirect_uri", "created_at")
    search_fields = ("instance",)
    exclude = ("client_secret",)
    readonly_fields = ("instance", "client_id", "redirect_uri", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Registered by the connect flow on first use of an instance.
        return False


# --- emergency stop -------------------------------------------------------------------------


class GlobalStopConfirmForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    confirmed = forms.BooleanField(label="Yes, I am sure", required=True)


@admin.register(EmergencyStop)
class EmergencyStopAdmin(admin.ModelAdmin):
    """The global emergency stop (on/off actions with a confirmation step) and a read-only view of workspace stops.

    Changes go only through `publishing.stop.set_emergency_stop`, which audits
    them; so rows cannot be added, edited or deleted here. A workspace's stop
    belongs to its owner (the workspace's emergency stop page).
    """

    list_display = ("scope", "is_active", "reason", "changed_by", "changed_at")
    list_filter = ("is_active",)
    list_select_related = ("workspace", "changed_by")
    search_fields = ("workspace__name", "workspace__slug", "reason")
    readonly_fields = ("workspace", "is_active", "reason", "changed_by", "changed_at")
    ordering = (F("workspace").asc(nulls_first=True), "-changed_at")
    actions = ("turn_global_stop_on", "turn_global_stop_off")
    confirm_template = "admin/publishing/emergencystop/confirm_global_stop.html"

    @admin.display(description="Scope", ordering="workspace__name")
    def scope(self, stop: EmergencyStop) -> str:
        return str(stop.workspace) if stop.workspace_id else "All workspaces (global)"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: EmergencyStop | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: EmergencyStop | None = None) -> bool:
        return False

    def has_global_stop_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and request.user.has_perm("publishing.change_emergencystop")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The global row is created (off) the first time it is needed, so there is always one to select.
        EmergencyStop.objects.get_or_create(workspace=None)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Turn the global emergency stop ON (stop all publishing)", permissions=["global_stop"])
    def turn_global_stop_on(self, request: HttpRequest, queryset: QuerySet[EmergencyStop]) -> HttpResponse | None:
        return self._confirm_global(request, queryset, active=True)

    @admin.action(description="Turn the global emergency stop OFF (resume publishing)", permissions=["global_stop"])
    def turn_global_stop_off(self, request: HttpRequest, queryset: QuerySet[EmergencyStop]) -> HttpResponse | None:
        return self._confirm_global(request, queryset, active=False)

    def _confirm_global(
        self, request: HttpRequest, queryset: QuerySet[EmergencyStop], *, active: bool
    ) -> HttpResponse | None:
        """Ask for confirmation (and a reason); on the confirmed POST, switch the global stop."""
        if queryset.exclude(workspace__isnull=True).exists():
            self.message_user(
                request,
                "Select only the global stop: a workspace's stop is turned on and off by its owner.",
                messages.ERROR,
            )
            return None
        form = GlobalStopConfirmForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            set_emergency_stop(workspace=None, active=active, actor=request.user, reason=form.cleaned_data["reason"])
            if active:
                self.message_user(request, "The global emergency stop is ON: nothing is published.", messages.WARNING)
            else:
                self.message_user(request, "The global emergency stop is OFF: publishing resumes.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Turn the global emergency stop on" if active else "Turn the global emergency stop off",
            "opts": self.model._meta,
            "active": active,
            "form": form,
            "queryset": queryset,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.confirm_template, context)
