"""The person's notifications: the list behind the bell, and marking them read.

User-scoped, not workspace-scoped: every query filters on the logged-in user,
so ids of other people's notifications are simply not found.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts import notifications

PAGE_SIZE = 25
MAX_IDS = 200


class IdListField(forms.Field):
    """Several `ids` values, each a positive whole number."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        if len(values) > MAX_IDS:
            raise ValidationError(f"Mark at most {MAX_IDS} notifications at once, or mark all of them read.")
        ids = []
        for raw in values:
            text = str(raw).strip()
            if not text.isdigit() or len(text) > 18:
                raise ValidationError("That is not a notification of yours. Reload the page and try again.")
            ids.append(int(text))
        return ids


class MarkReadForm(forms.Form):
    ids = IdListField(required=False)
    everything = forms.BooleanField(required=False)
    next = forms.CharField(required=False, max_length=500)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("everything") and not cleaned.get("ids") and "ids" not in self.errors:
            raise ValidationError("Choose the notifications to mark as read.")
        return cleaned


def is_safe_path(request: HttpRequest, url: str) -> bool:
    """Whether `url` is a link within this site (never another host, never a script)."""
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


class NotificationListView(LoginRequiredMixin, View):
    template_name = "accounts/notifications.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        unread_only = request.GET.get("show") == "unread"
        listed = notifications.notifications_for(request.user, unread_only=unread_only)
        page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
        for item in page.object_list:
            item.safe_url = item.url if is_safe_path(request, item.url) else ""
        context = {"page": page, "unread_only": unread_only, "unread_total": notifications.unread_count(request.user)}
        return render(request, self.template_name, context)


class NotificationMarkReadView(LoginRequiredMixin, View):
    """POST `ids` (or `everything`), optionally `next`: mark them read, then go there (or back to the list)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MarkReadForm(request.POST)
        back = reverse("accounts:notifications")
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(back)
        data = form.cleaned_data
        try:
            changed = notifications.mark_read(user=request.user, ids=data["ids"], everything=data["everything"])
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect(back)
        if is_safe_path(request, data["next"]):
            return redirect(data["next"])
        if data["everything"]:
            messages.success(request, "All your notifications are marked as read.")
        elif changed:
            messages.success(request, f"Marked {changed} notification{'s' if changed != 1 else ''} as read.")
        return redirect(back)
