from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, workspaces, memberships and roles. The ground floor: imports no other app."""

    name = "accounts"
    # Not "Accounts": allauth's e-mail addresses already sit under that heading in the admin.
    verbose_name = "Users and workspaces"
