"""The wizard's forms: they parse input; the services hold the rules."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.core.exceptions import ValidationError

from content.domains import BUILT_IN_DOMAINS
from content.models import ContentDomain
from letsgrow.lib.content_mix import ContentMixFields


def _split_commas(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class ServiceErrorsMixin:
    """Show a service's ValidationError on the form: keyed errors on their fields, the rest on top."""

    service_error_fields: dict[str, str] = {}

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)  # type: ignore[attr-defined]
            return
        for key, messages in error.message_dict.items():
            field = self.service_error_fields.get(key, key)
            self.add_error(field if field in self.fields else None, messages)  # type: ignore[attr-defined]


class WorkspaceNameForm(forms.Form):
    name = forms.CharField(
        label="Workspace name",
        max_length=120,
        widget=forms.TextInput(attrs={"class": "form-control form-control-lg", "autocomplete": "organization"}),
        help_text="A brand or client you post for. You can rename it later.",
        error_messages={"required": "Give your workspace a name."},
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Give your workspace a name.")
        return name


class DomainsForm(ServiceErrorsMixin, forms.Form):
    built_in = forms.MultipleChoiceField(
        choices=[(key, spec.name) for key, spec in BUILT_IN_DOMAINS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "“%(value)s” is not a content domain we offer."},
    )
    custom = forms.CharField(
        label="Your own domains",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "Coffee, Local events"}),
        help_text="Names separated by commas, e.g. Coffee, Local events.",
    )

    def clean_custom(self) -> list[str]:
        return _split_commas(self.cleaned_data["custom"])


class AutomationForm(ServiceErrorsMixin, ContentMixFields, forms.Form):
    service_error_fields = {"active_hours": "active_until", "content_mix": "__all__"}

    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        required=False,  # the service explains what to choose
        widget=forms.TextInput(
            attrs={"class": "form-control", "list": "timezone-names", "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="Detected from your browser; posting times are in this zone.",
    )
    active_from = forms.TimeField(
        label="Active from",
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        error_messages={"required": "Give the time posting may start.", "invalid": "Write times as HH:MM."},
    )
    active_until = forms.TimeField(
        label="Active until",
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        error_messages={"required": "Give the time posting must end.", "invalid": "Write times as HH:MM."},
    )
    posts_per_day = forms.IntegerField(
        label="Posts per day",
        widget=forms.NumberInput(attrs={"class": "form-control"}),
        error_messages={"required": "Say how many posts a day.", "invalid": "Posts per day must be a whole number."},
    )
    posting_times = forms.CharField(
        label="Posting times",
        required=False,  # the service says how many are needed
        max_length=600,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "10:00, 15:00"}),
        help_text="HH:MM (24-hour), separated by commas: one per post per day, inside the active hours.",
    )
    review_before_posting = forms.BooleanField(
        label="Review before posting",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input", "role": "switch"}),
        help_text="Every post waits for your approval before it goes out.",
    )

    def __init__(self, *args, domains: Sequence[ContentDomain], max_posts_per_day: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["posts_per_day"].widget.attrs.update(min=1, max=max_posts_per_day)
        self.add_mix_fields(domains)

    def clean_posting_times(self) -> list[str]:
        return _split_commas(self.cleaned_data["posting_times"])

    def service_kwargs(self) -> dict[str, object]:
        """The cleaned data in the shape publishing.services.save_automation_settings takes."""
        data = self.cleaned_data
        return {
            "timezone": data["timezone"],
            "active_from": data["active_from"],
            "active_until": data["active_until"],
            "posts_per_day": data["posts_per_day"],
            "posting_times": data["posting_times"],
            "content_mix": self.mix_values(data),
            "review_before_posting": data["review_before_posting"],
        }
