"""Template context: the user's workspaces for the switcher, and the current one."""

from __future__ import annotations


def workspaces(request) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def memberships():
        from accounts.models import Membership

        return list(Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name"))

    # Lazy: pages that never show the switcher never run the query.
    from django.utils.functional import SimpleLazyObject

    return {
        "my_memberships": SimpleLazyObject(memberships),
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": getattr(request, "membership", None),
    }
