"""Delivery: connections, providers, targets, the state machine, scheduling."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models

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
