from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, workspaces, memberships and roles. The ground floor: imports no other app."""

    name = "accounts"
    verbose_name = "Accounts"
