"""Delivery: connections, providers, targets, the state machine, scheduling."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce

from accounts.models import Workspace
from accounts.scoping import WorkspaceScopedModel
from publishing.fields import StrictEncryptedTextField
from publishing.providers import PLATFORM_CHOICES


def _default_posting_times() -> list[str]:
    return ["10:00", "15:00"]


class AutomationSettings(WorkspaceScopedModel):
    """How a workspace posts on its own: hours, frequency, times, content mix, review.

    Set during onboarding; the queue slots of the scheduler read it.
    """

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="automation")
    is_enabled = models.BooleanField(default=False)
    timezone = models.CharField(max_length=64, default="UTC")
    active_from = models.TimeField(default=time(9, 0))
    active_until = models.TimeField(default=time(18, 0))
    posts_per_day = models.PositiveSmallIntegerField(default=2)
    # "HH:MM" local times, sorted, each inside the active hours.
    posting_times = models.JSONField(default=_default_posting_times)
    # {domain key: percent}; the percents add up to 100.
    content_mix = models.JSONField(default=dict, blank=True)
    review_before_posting = models.BooleanField(default=True)
    # Staff only (admin): AI-generated posts of this workspace may skip review, when its plan allows it too.
    ai_autopost_allowed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "automation settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(posts_per_day__gte=1), name="automation_posts_per_day_positive"),
        ]

    def __str__(self) -> str:
        return f"Automation of {self.workspace}"


class SocialAccount(WorkspaceScopedModel):
    """A social account connected to a workspace. Tokens are encrypted at rest and never shown.

    Read tokens only through `publishing.connections.credentials_for`, which
    refuses values that did not decrypt (a wrong or missing key).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"
        REVOKED = "revoked", "Disconnected"
        ERROR = "error", "Error"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="social_accounts")
    platform = models.CharField(max_length=20, choices=PLATFORM_CHOICES)
    account_id = models.CharField(
        max_length=255, help_text="The account's id on the platform; on Mastodon id@instance (ids are per server)."
    )
    handle = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)
    avatar_url = models.URLField(max_length=1000, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    access_token = StrictEncryptedTextField(blank=True)
    refresh_token = StrictEncryptedTextField(blank=True)
    # Bluesky: the app password the user gave, to open a new session when the refresh token has run out.
    app_password = StrictEncryptedTextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # Per-account, non-secret platform details: Mastodon instance, Bluesky PDS, Page id, …
    config = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    last_error = models.TextField(blank=True, help_text="What went wrong last, in plain words.")
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    connected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform", "handle"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "platform", "account_id"], name="publishing_socialaccount_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "status"], name="publishing_sa_ws_status")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} · {self.handle}"

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.ACTIVE


class MastodonApp(models.Model):
    """Our OAuth app on one Mastodon instance: registered once per instance (POST /api/v1/apps)."""

    instance = models.CharField(max_length=255, unique=True, help_text="Host name, e.g. mastodon.social")
    client_id = models.CharField(max_length=255)
    client_secret = StrictEncryptedTextField()
    redirect_uri = models.URLField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.instance


class PostTarget(WorkspaceScopedModel):
    """One delivery: a post to one connected account, with its own text, schedule and status.

    `status` changes only through publishing.transitions (compare-and-set + event).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Not scheduled"  # the post is still being written or reviewed
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHING = "publishing", "Publishing"
        PUBLISHED = "published", "Published"
        FAILED = "failed", "Failed"
        UNCONFIRMED = "unconfirmed", "Unconfirmed"  # sent, but we cannot tell yet whether the post exists
        MISSED = "missed", "Missed"  # too late to go out without surprising anyone
        CANCELLED = "cancelled", "Cancelled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="post_targets")
    post = models.ForeignKey("content.Post", on_delete=models.CASCADE, related_name="targets")
    social_account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="targets")
    # The platform variant; empty means the post's own text.
    text = models.TextField(blank=True)
    link = models.URLField(max_length=2000, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True, help_text="UTC.")
    schedule_timezone = models.CharField(max_length=64, blank=True, help_text="IANA zone the time was given in.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="A retry waits until then (UTC).")
    # The lease: while "publishing", a worker owns the target until this time.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=120, blank=True)
    # The platform-side handle saved before the committing call (rkey, container id, idempotency key).
    publish_handle = models.CharField(max_length=255, blank=True)
    remote_id = models.CharField(max_length=255, blank=True)
    remote_url = models.URLField(max_length=2000, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    error_kind = models.CharField(max_length=20, blank=True)
    last_error = models.TextField(blank=True, help_text="What went wrong, in plain words.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scheduled_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["post", "social_account"], name="publishing_target_one_per_account"),
        ]
        indexes = [
            # The sweep's and the dispatcher's "what is due" and "whose lease ran out".
            models.Index(fields=["status", "scheduled_at"], name="publishing_target_due"),
            models.Index(fields=["status", "lease_expires_at"], name="publishing_target_lease"),
            models.Index(fields=["workspace", "status"], name="publishing_target_ws_status"),
        ]

    def __str__(self) -> str:
        return f"{self.post_id} → {self.social_account_id} ({self.status})"

    @property
    def effective_text(self) -> str:
        return self.text or self.post.text


class PostEvent(WorkspaceScopedModel):
    """An immutable record of one status change or action: who, when, from, to, why.

    Immutable in the model too: `save()` of an existing event and `delete()`
    raise `PostEvent.Immutable`. Queryset `update()` and `delete()` stay
    possible on purpose: deleting a post or a workspace cascades to its events
    (the collector deletes by queryset), and a data migration may need them.
    Nothing in the application calls them on events.
    """

    class Immutable(Exception):
        """An audit event was about to be changed or deleted."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="post_events")
    post = models.ForeignKey("content.Post", on_delete=models.CASCADE, related_name="events")
    target = models.ForeignKey(PostTarget, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who acted when it was not a person: "dispatcher", "sweep", "api key: …".
    actor_label = models.CharField(max_length=120, blank=True)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    reason = models.TextField(blank=True)
    # What an edit or a reschedule changed: {"field": {"before": …, "after": …}}.
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        subject = f"target {self.target_id}" if self.target_id else f"post {self.post_id}"
        return f"{subject}: {self.from_status} → {self.to_status}"

    def save(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        if not self._state.adding:
            raise PostEvent.Immutable(
                f"Post event {self.pk} is part of the audit log and cannot be changed; record a new event instead."
            )
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:  # type: ignore[override]
        raise PostEvent.Immutable(f"Post event {self.pk} is part of the audit log and cannot be deleted.")


class QueueSlot(WorkspaceScopedModel):
    """A recurring posting time of one account ("Mondays 09:30"): "add to queue" fills the next free one."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="queue_slots")
    social_account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="queue_slots")
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday … 6 = Sunday")
    time_of_day = models.TimeField(help_text="Local time in the workspace's time zone.")

    class Meta:
        ordering = ["weekday", "time_of_day"]
        constraints = [
            models.UniqueConstraint(
                fields=["social_account", "weekday", "time_of_day"], name="publishing_queueslot_unique"
            ),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="publishing_queueslot_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.social_account_id}: day {self.weekday} at {self.time_of_day:%H:%M}"


class EmergencyStop(models.Model):
    """While active, nothing is published: globally (workspace empty, staff) or for one workspace (owner)."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, null=True, blank=True, related_name="emergency_stop"
    )
    is_active = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One global row at most (NULLs are distinct in a plain unique index, so index 0 instead).
            models.UniqueConstraint(Coalesce("workspace", models.Value(0)), name="publishing_one_stop_per_scope"),
        ]

    def __str__(self) -> str:
        scope = self.workspace or "all workspaces"
        return f"Emergency stop for {scope}: {'on' if self.is_active else 'off'}"
