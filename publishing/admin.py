"""Staff pages of publishing: accounts, the audit log, emergency stops, automation and feature switches.

- Connected accounts and Mastodon apps: tokens and secrets are never shown nor
  editable. Connecting, reconnecting and disconnecting go through the
  connections page and its services, so the rules stay in one place.
- The audit log (`PostEvent`): read-only; nobody adds, edits or deletes events here.
- Emergency stops: global and per workspace, each change after a confirmation
  and through `publishing.stop.set_emergency_stop`, which audits it.
- Automation settings: staff may only allow or forbid AI posts to skip review
  (`ai_autopost_allowed`); the owner sets the rest on the site.
- Feature switches (django-waffle `Switch`): the switches of
  `letsgrow.features.SWITCHES`, flipped after a confirmation.

Every staff change here is audited as a Django admin `LogEntry` with a plain
change message (the object's "History", and "Recent actions") and a warning
log line, so it also reaches the log aggregator.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from waffle.models import Switch

from accounts.models import Workspace
from letsgrow.features import SWITCHES
from publishing.models import AutomationSettings, EmergencyStop, MastodonApp, PostEvent, SocialAccount
from publishing.providers import DISPLAY_NAMES
from publishing.stop import may_manage_any_stop, set_emergency_stop

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

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


# --- the audit log --------------------------------------------------------------------------


class ActorKindFilter(admin.SimpleListFilter):
    title = "who acted"
    parameter_name = "actor_kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("person", "A person"), ("system", "LetsGrow itself (dispatcher, sweep, API key …)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PostEvent]) -> QuerySet[PostEvent]:
        if self.value() == "person":
            return queryset.filter(actor__isnull=False)
        if self.value() == "system":
            return queryset.filter(actor__isnull=True)
        return queryset


@admin.register(PostEvent)
class PostEventAdmin(admin.ModelAdmin):
    """The audit log: every submission, approval, rejection, edit, schedule, cancel and publish. Read-only.

    Events are immutable (the model refuses to save an existing one or to
    delete one); here nobody may add, change or delete them, and the delete
    action is gone. Staff with the view permission see each event's page.
    """

    list_display = ("created_at", "workspace", "post_link", "target_label", "who", "status_change", "short_reason")
    list_filter = (ActorKindFilter, "to_status", "from_status", "created_at")
    search_fields = (
        "=post__id",
        "reason",
        "actor__email",
        "actor__name",
        "actor_label",
        "workspace__name",
        "workspace__slug",
        "target__social_account__handle",
    )
    list_select_related = ("workspace", "post", "actor", "target__social_account")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    # The table grows without end: no COUNT(*) of all of it on every page.
    show_full_result_count = False
    actions = None
    fields = (
        "created_at",
        "workspace",
        "post",
        "target",
        "actor",
        "actor_label",
        "from_status",
        "to_status",
        "reason",
        "changes_table",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PostEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PostEvent | None = None) -> bool:
        return False

    @admin.display(description="post", ordering="post_id")
    def post_link(self, event: PostEvent) -> str:
        label = f"#{event.post_id} {Truncator(str(event.post)).chars(40)}"
        try:
            url = reverse("admin:content_post_change", args=[event.post_id])
        except NoReverseMatch:  # the content admin may not list posts
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="target")
    def target_label(self, event: PostEvent) -> str:
        if event.target is None:
            return "-"
        account = event.target.social_account
        return f"{DISPLAY_NAMES.get(account.platform, account.platform)} {account.handle}"

    @admin.display(description="who", ordering="actor__email")
    def who(self, event: PostEvent) -> str:
        if event.actor is not None:
            return event.actor.email
        return event.actor_label or "-"

    @admin.display(description="change")
    def status_change(self, event: PostEvent) -> str:
        if not event.from_status and not event.to_status:
            return "(no status change)"
        return f"{event.from_status or '-'} \N{RIGHTWARDS ARROW} {event.to_status or '-'}"

    @admin.display(description="reason")
    def short_reason(self, event: PostEvent) -> str:
        return Truncator(event.reason).chars(80)

    @admin.display(description="changes")
    def changes_table(self, event: PostEvent) -> str:
        if not event.changes:
            return "-"
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (
                    field,
                    _plain(values.get("before") if isinstance(values, dict) else values),
                    _plain(values.get("after") if isinstance(values, dict) else ""),
                )
                for field, values in sorted(event.changes.items())
            ),
        )
        return format_html(
            "<table><thead><tr><th>field</th><th>before</th><th>after</th></tr></thead><tbody>{}</tbody></table>", rows
        )


def _plain(value: object) -> str:
    if value is None or value == "":
        return "-"
    return str(value)


# --- emergency stop -------------------------------------------------------------------------


class GlobalStopConfirmForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    confirmed = forms.BooleanField(label="Yes, I am sure", required=True)


class WorkspaceStopForm(forms.Form):
    """Turn one workspace's stop on or off (any workspace, also one without a stop row yet)."""

    workspace = forms.CharField(
        label="Workspace (its address name, as in /w/<name>/)",
        max_length=60,
        widget=forms.TextInput(attrs={"size": 40}),
    )
    active = forms.TypedChoiceField(
        label="Publishing for this workspace",
        choices=[("on", "Stop it (emergency stop ON)"), ("off", "Resume it (emergency stop OFF)")],
        coerce=lambda value: value == "on",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason (recorded, and shown in the workspace's banner)",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    confirmed = forms.BooleanField(label="Yes, I am sure", required=True)

    def clean_workspace(self) -> Workspace:
        slug = self.cleaned_data["workspace"].strip().strip("/").lower()
        if slug.startswith("w/"):
            slug = slug[2:]
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise forms.ValidationError(f'There is no workspace "{slug}". Copy its name from the workspace list.')
        return workspace


@admin.register(EmergencyStop)
class EmergencyStopAdmin(admin.ModelAdmin):
    """Emergency stops: the global one and each workspace's, switched on and off after a confirmation.

    Changes go only through `publishing.stop.set_emergency_stop`, which audits
    them; so rows cannot be added, edited or deleted here. The global stop needs
    staff with `publishing.change_emergencystop`, and so does a workspace's
    stop (its owner switches it on the workspace's emergency stop page).
    """

    list_display = ("scope", "is_active", "reason", "changed_by", "changed_at", "switch_link")
    list_filter = ("is_active",)
    list_select_related = ("workspace", "changed_by")
    search_fields = ("workspace__name", "workspace__slug", "reason")
    readonly_fields = ("workspace", "is_active", "reason", "changed_by", "changed_at")
    ordering = (F("workspace").asc(nulls_first=True), "-changed_at")
    actions = ("turn_global_stop_on", "turn_global_stop_off", "turn_workspace_stops_on", "turn_workspace_stops_off")
    confirm_template = "admin/publishing/emergencystop/confirm_global_stop.html"
    confirm_workspace_template = "admin/publishing/emergencystop/confirm_workspace_stop.html"
    workspace_form_template = "admin/publishing/emergencystop/workspace_stop.html"
    change_list_template = "admin/publishing/emergencystop/change_list.html"

    @admin.display(description="Scope", ordering="workspace__name")
    def scope(self, stop: EmergencyStop) -> str:
        return str(stop.workspace) if stop.workspace_id else "All workspaces (global)"

    @admin.display(description="")
    def switch_link(self, stop: EmergencyStop) -> str:
        if stop.workspace_id is None:
            return ""
        url = reverse("admin:publishing_emergencystop_workspace")
        query = f"?workspace={stop.workspace.slug}&active={'off' if stop.is_active else 'on'}"
        label = "Resume…" if stop.is_active else "Stop…"
        return format_html('<a href="{}{}">{}</a>', url, query, label)

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        if not self.has_workspace_stop_permission(request):
            shown = tuple(name for name in shown if name != "switch_link")
        return shown

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: EmergencyStop | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: EmergencyStop | None = None) -> bool:
        return False

    def has_global_stop_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and request.user.has_perm("publishing.change_emergencystop")

    def has_workspace_stop_permission(self, request: HttpRequest) -> bool:
        return may_manage_any_stop(request.user)

    def get_urls(self) -> list[Any]:
        custom = [
            path(
                "workspace/",
                self.admin_site.admin_view(self.workspace_stop_view),
                name="publishing_emergencystop_workspace",
            )
        ]
        return custom + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # The global row is created (off) the first time it is needed, so there is always one to select.
        EmergencyStop.objects.get_or_create(workspace=None)
        extra_context = {**(extra_context or {}), "may_stop_workspaces": self.has_workspace_stop_permission(request)}
        return super().changelist_view(request, extra_context)

    @admin.action(description="Turn the global emergency stop ON (stop all publishing)", permissions=["global_stop"])
    def turn_global_stop_on(self, request: HttpRequest, queryset: QuerySet[EmergencyStop]) -> HttpResponse | None:
        return self._confirm_global(request, queryset, active=True)

    @admin.action(description="Turn the global emergency stop OFF (resume publishing)", permissions=["global_stop"])
    def turn_global_stop_off(self, request: HttpRequest, queryset: QuerySet[EmergencyStop]) -> HttpResponse | None:
        return self._confirm_global(request, queryset, active=False)

    @admin.action(description="Turn the selected workspaces' stops ON", permissions=["workspace_stop"])
    def turn_workspace_stops_on(self, request: HttpRequest, queryset: QuerySet[EmergencyStop]) -> HttpResponse | None:
        return self._confirm_workspaces(request, queryset, active=True)

    @admin.action(description="Turn the selected workspaces' stops OFF", permissions=["workspace_stop"])
    def turn_workspace_stops_off(self, request: HttpRequest, queryset: QuerySet[EmergencyStop]) -> HttpResponse | None:
        return self._confirm_workspaces(request, queryset, active=False)

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

    def _confirm_workspaces(
        self, request: HttpRequest, queryset: QuerySet[EmergencyStop], *, active: bool
    ) -> HttpResponse | None:
        """Ask for confirmation (and a reason); on the confirmed POST, switch each selected workspace's stop."""
        if queryset.filter(workspace__isnull=True).exists():
            self.message_user(
                request,
                "Select only workspace stops: the global stop has its own actions.",
                messages.ERROR,
            )
            return None
        stops = list(queryset.select_related("workspace").order_by("workspace__name"))
        form = GlobalStopConfirmForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            for stop in stops:
                set_emergency_stop(workspace=stop.workspace, active=active, actor=request.user, reason=reason)
            names = ", ".join(stop.workspace.name for stop in stops)
            if active:
                text, level = f"Emergency stop ON for: {names}. Nothing is published there.", messages.WARNING
            else:
                text, level = f"Emergency stop OFF for: {names}. Publishing resumes.", messages.SUCCESS
            self.message_user(request, text, level)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Stop publishing for these workspaces" if active else "Resume publishing for these workspaces",
            "opts": self.model._meta,
            "active": active,
            "form": form,
            "queryset": stops,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.confirm_workspace_template, context)

    def workspace_stop_view(self, request: HttpRequest) -> HttpResponse:
        """Turn any workspace's stop on or off: a form with the workspace, the state, a reason and a confirmation."""
        if not self.has_workspace_stop_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = WorkspaceStopForm(request.POST)
            if form.is_valid():
                workspace, active = form.cleaned_data["workspace"], form.cleaned_data["active"]
                set_emergency_stop(
                    workspace=workspace, active=active, actor=request.user, reason=form.cleaned_data["reason"]
                )
                if active:
                    text = f"Emergency stop ON for {workspace.name}: nothing is published there."
                    self.message_user(request, text, messages.WARNING)
                else:
                    text = f"Emergency stop OFF for {workspace.name}: publishing resumes."
                    self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:publishing_emergencystop_changelist"))
        else:
            initial = {"workspace": request.GET.get("workspace", "")[:60], "active": request.GET.get("active", "on")}
            form = WorkspaceStopForm(initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "title": "Stop or resume publishing for one workspace",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, self.workspace_form_template, context, status=400 if form.errors else 200)


# --- automation settings (staff allow AI posts to skip review) -------------------------------


def set_ai_autopost_allowed(*, settings: AutomationSettings, allowed: bool, actor: User) -> AutomationSettings:
    """Allow or forbid `settings.workspace`'s AI posts to skip review; audited (LogEntry + warning log line).

    Writes only that field, so an owner saving their settings meanwhile loses nothing.
    """
    with transaction.atomic():
        locked = AutomationSettings.objects.select_for_update().get(pk=settings.pk)
        was = locked.ai_autopost_allowed
        locked.ai_autopost_allowed = allowed
        locked.save(update_fields=["ai_autopost_allowed", "updated_at"])
        verb = "Allowed" if allowed else "Forbade"
        message = f"{verb} AI-generated posts to skip review (ai_autopost_allowed {_on_off(was)} → {_on_off(allowed)})"
        if was == allowed:
            message += " (it already was)"
        LogEntry.objects.log_actions(
            user_id=actor.pk, queryset=[locked], action_flag=CHANGE, change_message=message, single_object=True
        )
    logger.warning(
        "AI autopost %s for workspace %s by user %s (was %s).",
        "allowed" if allowed else "forbidden",
        locked.workspace_id,
        actor.pk,
        _on_off(was),
    )
    return locked


def _on_off(value: bool) -> str:
    return "on" if value else "off"


@admin.register(AutomationSettings)
class AutomationSettingsAdmin(admin.ModelAdmin):
    """Each workspace's automation, read-only but for `ai_autopost_allowed`, which only staff may set.

    The owner sets the rest on the site. AI posts skip review only where this,
    the workspace's plan and the `ai_autopost` feature switch all allow it.
    """

    list_display = ("workspace", "ai_autopost_allowed", "review_before_posting", "is_enabled", "updated_at")
    list_filter = ("ai_autopost_allowed", "review_before_posting", "is_enabled")
    search_fields = ("workspace__name", "workspace__slug")
    list_select_related = ("workspace",)
    ordering = ("workspace__name",)
    fields = (
        "workspace",
        "ai_autopost_allowed",
        "review_before_posting",
        "is_enabled",
        "timezone",
        "active_from",
        "active_until",
        "posts_per_day",
        "posting_times",
        "content_mix",
        "updated_at",
    )
    readonly_fields = tuple(name for name in fields if name != "ai_autopost_allowed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Created with the workspace (onboarding); nothing to add by hand.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AutomationSettings | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AutomationSettings, form: forms.ModelForm, change: bool) -> None:
        # Only the one editable field is written, and only through the audited service.
        if change and "ai_autopost_allowed" in form.changed_data:
            set_ai_autopost_allowed(settings=obj, allowed=obj.ai_autopost_allowed, actor=request.user)

    def log_change(self, request: HttpRequest, obj: AutomationSettings, message: Any) -> LogEntry | None:
        # set_ai_autopost_allowed wrote the LogEntry, in plain words; a save without changes needs none.
        return None


# --- feature switches (django-waffle) -----------------------------------------------------


class SwitchConfirmForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason (recorded in the switch's history)",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    confirmed = forms.BooleanField(label="Yes, I am sure", required=True)

    def __init__(self, *args: Any, reason_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = reason_required


def set_feature_switch(*, name: str, active: bool, actor: User, reason: str = "") -> Switch:
    """Turn the feature switch `name` on or off; audited (LogEntry + warning log line). Returns the switch.

    The row is created (off) first if it is missing. waffle drops its cached
    value once the transaction commits, so `letsgrow.features.is_enabled` follows.
    """
    reason = reason.strip()
    with transaction.atomic():
        switch = Switch.objects.select_for_update().filter(name=name).first()
        if switch is None:
            switch = Switch.objects.create(name=name, active=False, note=SWITCHES.get(name, ""))
        was = switch.active
        switch.active = active
        switch.save()
        message = f"Turned the feature switch {name} {_on_off(active)}"
        if was == active:
            message += " (it already was)"
        if reason:
            message += f": {reason}"
        LogEntry.objects.log_actions(
            user_id=actor.pk, queryset=[switch], action_flag=CHANGE, change_message=message, single_object=True
        )
    logger.warning(
        "Feature switch %s %s by user %s (was %s). Reason: %s",
        name,
        _on_off(active),
        actor.pk,
        _on_off(was),
        reason or "-",
    )
    return switch


if admin.site.is_registered(Switch):
    # waffle's own admin flips and deletes switches without a confirmation and without our log line.
    admin.site.unregister(Switch)


@admin.register(Switch)
class FeatureSwitchAdmin(admin.ModelAdmin):
    """The feature switches for risky automation: each known one with what it does, off until staff turn it on.

    The list is `letsgrow.features.SWITCHES`; missing rows are created off. Switches
    are flipped only by the two actions (confirmation, reason, audit), never
    edited, added or deleted by hand: code asks for them by name.
    """

    list_display = ("name", "description", "state", "modified")
    list_filter = ("active",)
    search_fields = ("name", "note")
    ordering = ("name",)
    fields = ("name", "description", "state", "created", "modified")
    readonly_fields = fields
    actions = ("turn_switches_on", "turn_switches_off")
    confirm_template = "admin/publishing/feature_switch_confirm.html"

    @admin.display(description="what it does")
    def description(self, switch: Switch) -> str:
        return SWITCHES.get(switch.name, "Not used by LetsGrow's code: turning it on changes nothing.")

    @admin.display(description="state", boolean=False, ordering="active")
    def state(self, switch: Switch) -> str:
        return "ON" if switch.active else "off"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Switch | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Switch | None = None) -> bool:
        return False

    def has_flip_permission(self, request: HttpRequest) -> bool:
        return request.user.is_staff and request.user.has_perm("waffle.change_switch")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        existing = set(Switch.objects.filter(name__in=SWITCHES).values_list("name", flat=True))
        for name in SWITCHES.keys() - existing:
            # Off, as the data migration makes them: a switch appears in the list before anyone flips it.
            Switch.objects.get_or_create(name=name, defaults={"active": False, "note": SWITCHES[name]})
        return super().changelist_view(request, extra_context)

    @admin.action(description="Turn the selected feature switches ON", permissions=["flip"])
    def turn_switches_on(self, request: HttpRequest, queryset: QuerySet[Switch]) -> HttpResponse | None:
        return self._confirm(request, queryset, active=True)

    @admin.action(description="Turn the selected feature switches OFF", permissions=["flip"])
    def turn_switches_off(self, request: HttpRequest, queryset: QuerySet[Switch]) -> HttpResponse | None:
        return self._confirm(request, queryset, active=False)

    def _confirm(self, request: HttpRequest, queryset: QuerySet[Switch], *, active: bool) -> HttpResponse | None:
        """Ask for confirmation (a reason is required to turn automation on); then flip each switch."""
        switches = list(queryset.order_by("name"))
        form = SwitchConfirmForm(request.POST if "confirm" in request.POST else None, reason_required=active)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            for switch in switches:
                set_feature_switch(name=switch.name, active=active, actor=request.user, reason=reason)
            names = ", ".join(switch.name for switch in switches)
            if active:
                self.message_user(request, f"Turned on: {names}.", messages.WARNING)
            else:
                self.message_user(request, f"Turned off: {names}.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Turn these feature switches on" if active else "Turn these feature switches off",
            "opts": self.model._meta,
            "active": active,
            "form": form,
            "rows": [(switch, self.description(switch)) for switch in switches],
            "queryset": switches,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.confirm_template, context)
