"""Staff views of connected accounts and Mastodon apps. Tokens and secrets are never shown nor editable.

Connecting, reconnecting and disconnecting go through the connections page and
its services, so the rules (plan, permissions, revocation) stay in one place.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from publishing.models import MastodonApp, SocialAccount

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
