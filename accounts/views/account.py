"""The person's own pages: profile (name, security links, workspaces) and deleting the account."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views import View

from accounts import services
from accounts.forms import AccountDeleteForm, ProfileForm, add_errors
from accounts.models import Membership


def _memberships(user):
    return Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name")


class ProfileView(LoginRequiredMixin, View):
    template_name = "accounts/profile.html"

    def get(self, request):
        return self.render_page(ProfileForm(initial={"name": request.user.name}))

    def post(self, request):
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.update_profile(user=request.user, name=form.cleaned_data["name"])
            except ValidationError as error:
                add_errors(form, error, "name")
            else:
                messages.success(request, "Your name was saved.")
                return redirect("accounts:profile")
        return self.render_page(form, status=400)

    def render_page(self, form: ProfileForm, *, status: int = 200):
        context = {"form": form, "memberships": _memberships(self.request.user)}
        return render(self.request, self.template_name, context, status=status)


class AccountDeleteView(LoginRequiredMixin, View):
    """Names what goes before anything goes; confirmed with the password (or the email without one)."""

    template_name = "accounts/account_delete.html"

    def get(self, request):
        return self.render_page(AccountDeleteForm(user=request.user))

    def post(self, request):
        form = AccountDeleteForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                deleted = services.delete_account(user=request.user)
            except ValidationError as error:
                add_errors(form, error)
            else:
                logout(request)
                summary = f" Deleted workspaces: {', '.join(deleted)}." if deleted else ""
                messages.success(request, f"Your account was deleted.{summary}")
                return redirect("home")
        return self.render_page(form, status=400)

    def render_page(self, form: AccountDeleteForm, *, status: int = 200):
        user = self.request.user
        context = {
            "form": form,
            "deleted_workspaces": services.workspaces_deleted_with(user=user),
            "left_memberships": _memberships(user).exclude(role=Membership.Role.OWNER),
        }
        return render(self.request, self.template_name, context, status=status)
