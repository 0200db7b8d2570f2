"""The members page: who is in the workspace, invitations, roles, ownership, leaving.

Thin: parse, call one service, say what happened, redirect. Every id in a URL
or form is looked up inside the workspace named in the URL (`get_scoped_or_404`),
so an id from another workspace is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts import services
from accounts.forms import InviteForm, RoleForm, TransferForm, add_errors
from accounts.models import Invitation, Membership
from accounts.permissions import ROLE_DESCRIPTIONS, Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin


def _error(request, error: ValidationError) -> None:
    messages.error(request, " ".join(error.messages))


class MembersView(WorkspaceMixin, View):
    """GET: every member sees who is in the workspace. POST: invite (needs MANAGE_MEMBERS)."""

    template_name = "accounts/members.html"
    required_action = Action.VIEW
    write_action = Action.MANAGE_MEMBERS

    def get(self, request, workspace_slug: str):
        return self.render_page(InviteForm())

    def post(self, request, workspace_slug: str):
        form = InviteForm(request.POST)
        if form.is_valid():
            try:
                invitation, _token = services.invite_member(
                    workspace=self.workspace,
                    invited_by=request.user,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("accounts:members", workspace_slug=self.workspace.slug)
        return self.render_page(form, status=400)

    def render_page(self, invite_form: InviteForm, *, status: int = 200):
        role = self.membership.role
        may_manage = can(role, Action.MANAGE_MEMBERS)
        members = list(
            Membership.objects.for_workspace(self.workspace)
            .select_related("user")
            .order_by("user__name", "user__email")
        )
        for member in members:
            # What the page offers for each row; the services decide again on POST.
            is_self = member.user_id == self.request.user.pk
            member.is_self = is_self
            member.is_manageable = (
                may_manage
                and not is_self
                and member.role != Membership.Role.OWNER
                and (member.role != Membership.Role.ADMIN or role == Membership.Role.OWNER)
            )
        invitations = (
            Invitation.objects.for_workspace(self.workspace)
            .filter(accepted_at__isnull=True, revoked_at__isnull=True)
            .select_related("invited_by")
            if may_manage
            else Invitation.objects.none()
        )
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "members": members,
            "invitations": invitations,
            "may_manage": may_manage,
            "may_transfer": can(role, Action.TRANSFER_OWNERSHIP),
            "transfer_candidates": [m for m in members if not m.is_self],
            "invite_form": invite_form,
            "role_choices": RoleForm.base_fields["role"].choices,
            "role_descriptions": [(value, label, ROLE_DESCRIPTIONS[value]) for value, label in Membership.Role.choices],
        }
        return render(self.request, self.template_name, context, status=status)


class _MembersAction(WorkspaceMixin, View):
    """A POST from the members page: act, then return there with a message."""

    http_method_names = ["post"]
    write_action = Action.MANAGE_MEMBERS

    def back(self):
        return redirect("accounts:members", workspace_slug=self.workspace.slug)


class MemberRoleView(_MembersAction):
    def post(self, request, workspace_slug: str, pk: int):
        membership = get_scoped_or_404(Membership, self.workspace, pk=pk)
        form = RoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose admin, editor, approver or viewer.")
            return self.back()
        try:
            membership = services.change_role(membership=membership, role=form.cleaned_data["role"], actor=request.user)
        except ValidationError as error:
            _error(request, error)
        else:
            messages.success(request, f"{membership.user} is now {membership.get_role_display().lower()}.")
        return self.back()


class MemberRemoveView(_MembersAction):
    def post(self, request, workspace_slug: str, pk: int):
        membership = get_scoped_or_404(Membership, self.workspace, pk=pk)
        try:
            services.remove_member(membership=membership, actor=request.user)
        except ValidationError as error:
            _error(request, error)
        else:
            messages.success(request, f"{membership.user} no longer has access to {self.workspace.name}.")
        return self.back()


class InvitationRevokeView(_MembersAction):
    def post(self, request, workspace_slug: str, pk: int):
        invitation = get_scoped_or_404(Invitation, self.workspace, pk=pk)
        try:
            services.revoke_invitation(invitation=invitation, actor=request.user)
        except ValidationError as error:
            _error(request, error)
        else:
            messages.success(request, f"The invitation to {invitation.email} was revoked; its link no longer works.")
        return self.back()


class InvitationResendView(_MembersAction):
    def post(self, request, workspace_slug: str, pk: int):
        invitation = get_scoped_or_404(Invitation, self.workspace, pk=pk)
        try:
            services.resend_invitation(invitation=invitation, actor=request.user)
        except ValidationError as error:
            _error(request, error)
        else:
            messages.success(request, f"A new invitation link was sent to {invitation.email}.")
        return self.back()


class TransferOwnershipView(_MembersAction):
    write_action = Action.TRANSFER_OWNERSHIP

    def post(self, request, workspace_slug: str):
        form = TransferForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose the member who becomes the owner.")
            return self.back()
        to_membership = get_scoped_or_404(Membership, self.workspace, pk=form.cleaned_data["membership"])
        try:
            services.transfer_ownership(workspace=self.workspace, to_membership=to_membership, actor=request.user)
        except ValidationError as error:
            _error(request, error)
        else:
            messages.success(request, f"{to_membership.user} now owns {self.workspace.name}; you are an admin.")
        return self.back()


class LeaveWorkspaceView(WorkspaceMixin, View):
    """Any member may leave, except the owner. Returns to `next` (same site) or the account page."""

    http_method_names = ["post"]
    write_action = Action.VIEW

    def post(self, request, workspace_slug: str):
        try:
            services.leave_workspace(membership=self.membership)
        except ValidationError as error:
            _error(request, error)
            return redirect(self._next() or "accounts:profile")
        if request.session.get("workspace_id") == self.workspace.pk:
            request.session.pop("workspace_id")
        messages.success(request, f"You left {self.workspace.name}.")
        return redirect("accounts:profile")

    def _next(self) -> str | None:
        url = self.request.POST.get("next", "")
        ok = url_has_allowed_host_and_scheme(url, allowed_hosts={self.request.get_host()}, require_https=False)
        return url if url and ok else None
