"""Forms of the account, workspace and member pages. They parse input; the services hold the rules."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Membership, User
from accounts.services import available_timezones

_ASSIGNABLE_ROLES = [(value, label) for value, label in Membership.Role.choices if value != Membership.Role.OWNER]


def add_errors(form: forms.Form, error: ValidationError, field: str | None = None) -> None:
    """Show a service's ValidationError on the form (on `field`, or above the form)."""
    for message in error.messages:
        form.add_error(field, message)


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in available_timezones()]


class ProfileForm(forms.Form):
    name = forms.CharField(
        max_length=150, required=False, widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "name"})
    )


class WorkspaceForm(forms.Form):
    """Name and time zone: creating a workspace and its settings page."""

    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"class": "form-control", "autofocus": True}))
    timezone = forms.ChoiceField(
        choices=_timezone_choices,
        initial="UTC",
        help_text="Scheduling shows and takes local times in this zone.",
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class ConfirmNameForm(forms.Form):
    """Deleting a workspace: type its name to confirm."""

    confirm_name = forms.CharField(
        label="Type the workspace's name to confirm", widget=forms.TextInput(attrs={"class": "form-control"})
    )

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.expected:
            raise forms.ValidationError(f"Type “{self.expected}” exactly to delete the workspace.")
        return value


class InviteForm(forms.Form):
    email = forms.EmailField(
        widget=forms.EmailInput(attrs={"class": "form-control", "placeholder": "name@example.com"})
    )
    role = forms.ChoiceField(
        choices=_ASSIGNABLE_ROLES, initial=Membership.Role.EDITOR, widget=forms.Select(attrs={"class": "form-select"})
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=_ASSIGNABLE_ROLES, widget=forms.Select(attrs={"class": "form-select"}))


class TransferForm(forms.Form):
    """Pick the member who becomes owner (ids are re-checked against the workspace by the view)."""

    membership = forms.IntegerField(widget=forms.HiddenInput)


class AccountDeleteForm(forms.Form):
    """Confirm account deletion with the password, or the email address when there is no usable password."""

    confirmation = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"class": "form-control"}))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.uses_password = user.has_usable_password()
        field = self.fields["confirmation"]
        if self.uses_password:
            field.label = "Your password"
            field.widget.attrs["autocomplete"] = "current-password"
        else:
            field.label = "Type your email address"
            field.widget = forms.EmailInput(attrs={"class": "form-control", "autocomplete": "off"})

    def clean_confirmation(self) -> str:
        value = self.cleaned_data["confirmation"]
        if self.uses_password:
            if not self.user.check_password(value):
                raise forms.ValidationError("That is not your password; nothing was deleted.")
        elif value.strip().lower() != self.user.email.lower():
            raise forms.ValidationError(f"Type {self.user.email} exactly; nothing was deleted.")
        return value
