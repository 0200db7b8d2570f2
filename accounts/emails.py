"""Emails accounts sends. Templates: templates/accounts/email/*.txt."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sites.models import Site
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

if TYPE_CHECKING:
    from accounts.models import Invitation


def invitation_url(token: str) -> str:
    """The absolute link to accept an invitation, on this site's domain (Sites framework)."""
    domain = Site.objects.get_current().domain
    protocol = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "https")
    return f"{protocol}://{domain}{reverse('accounts:invitation_accept', kwargs={'token': token})}"


def send_invitation_email(*, invitation: Invitation, token: str) -> None:
    """Email the invitee their single-use link. `token` is the raw token; we store only its hash."""
    inviter = invitation.invited_by
    context = {
        "invitation": invitation,
        "workspace": invitation.workspace,
        "inviter_name": inviter.get_full_name() if inviter else "Someone",
        "role": invitation.get_role_display(),
        "url": invitation_url(token),
        "expires_at": invitation.expires_at,
    }
    # One line: a newline in a workspace name must not break (or inject) mail headers.
    subject = " ".join(render_to_string("accounts/email/invitation_subject.txt", context).split())
    body = render_to_string("accounts/email/invitation_body.txt", context)
    send_mail(
        f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", body, settings.DEFAULT_FROM_EMAIL, [invitation.email]
    )
