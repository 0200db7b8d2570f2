"""The link in an invitation email: see what you are invited to, then accept.

Anyone with the link sees the page; accepting needs a login with the invited
address. A bad link (unknown or tampered: 404; used, revoked, expired, sent to
another address, already a member: 400) gets a page that says why and what to do.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import services

_NOT_FOUND_CODES = {"invalid"}


def _error_page(request, error: ValidationError, *, invitation=None):
    code = getattr(error, "code", None)
    context = {"message": " ".join(error.messages), "code": code, "invitation": invitation}
    status = 404 if code in _NOT_FOUND_CODES else 400
    return render(request, "accounts/invitation_error.html", context, status=status)


@method_decorator(never_cache, name="dispatch")
class InvitationAcceptView(View):
    template_name = "accounts/invitation_accept.html"

    def get(self, request, token: str):
        invitation = services.find_invitation(token=token)
        if invitation is None:
            return _error_page(request, ValidationError("This invitation link is not valid.", code="invalid"))
        user = request.user if request.user.is_authenticated else None
        try:
            services.check_invitation(invitation=invitation, user=user)
        except ValidationError as error:
            return _error_page(request, error, invitation=invitation)
        next_query = urlencode({"next": request.path})
        context = {
            "invitation": invitation,
            "workspace": invitation.workspace,
            "inviter": invitation.invited_by,
            "login_url": f"{reverse('account_login')}?{next_query}",
            "signup_url": f"{reverse('account_signup')}?{next_query}",
        }
        return render(request, self.template_name, context)

    def post(self, request, token: str):
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        try:
            membership = services.accept_invitation(token=token, user=request.user)
        except ValidationError as error:
            return _error_page(request, error, invitation=services.find_invitation(token=token))
        request.session["workspace_id"] = membership.workspace_id
        messages.success(
            request, f"Welcome to {membership.workspace.name}: you are {membership.get_role_display().lower()}."
        )
        return redirect("analytics:dashboard", workspace_slug=membership.workspace.slug)
