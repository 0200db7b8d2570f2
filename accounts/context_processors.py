"""Template context: the user's workspaces for the switcher, the current one, and the bell's unread count."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def workspaces(request) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def memberships():
        from accounts.models import Membership

        return list(Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name"))

    def unread():
        from accounts.notifications import unread_count

        return unread_count(user)

    # Lazy: pages that never show the switcher (or the bell) never run its query; each runs at most once.
    return {
        "my_memberships": SimpleLazyObject(memberships),
        "unread_notifications": SimpleLazyObject(unread),
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": getattr(request, "membership", None),
    }
