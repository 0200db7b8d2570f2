"""Staff must use two-factor authentication before they reach Django Admin."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse


class StaffTwoFactorMiddleware:
    """Send staff without an authenticator app from /admin/ to its activation.

    allauth asks for the password again before activation, then shows the QR
    code; logins after that ask for the app's code (allauth's MFA login stage).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.STAFF_REQUIRE_2FA
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path.startswith(reverse("admin:index"))
            and not _has_totp(user)
        ):
            messages.warning(request, "Staff must turn on two-factor authentication before using the admin.")
            return redirect(f"{reverse('mfa_activate_totp')}?{urlencode({'next': request.path}, safe='/')}")
        return self.get_response(request)


def _has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
