"""allauth adapters: the product's choices on top of allauth's defaults."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.contrib.auth import get_user_model


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_taken": "There is already a LetsGrow account with this email address. Log in, or reset your password.",
        "email_password_mismatch": "The email address or the password is not right.",
        "incorrect_code": "That code is not right. Check it and try again.",
    }

    def is_open_for_signup(self, request) -> bool:
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUPS", True)

    def validate_unique_email(self, email: str) -> str:
        """Say so when an address already has an account.

        allauth calls this after its own check. With enumeration prevention it
        hides a taken address at sign-up (it mails the owner and shows "check
        your email"); the product prefers a clear message at sign-up, and
        creates nothing. Login and password reset still reveal nothing.
        """
        from allauth.account.models import EmailAddress
        from allauth.core import context

        addresses = EmailAddress.objects.filter(email__iexact=email)
        users = get_user_model().objects.filter(email__iexact=email)
        user = getattr(context.request, "user", None)
        if user is not None and user.is_authenticated:
            # Changing one's own address: only other people's accounts count.
            addresses = addresses.exclude(user_id=user.pk)
            users = users.exclude(pk=user.pk)
        if addresses.exists() or users.exists():
            raise self.validation_error("email_taken")
        return email


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "incorrect_code": "That code is not right. Enter the code your authenticator app shows now.",
    }
