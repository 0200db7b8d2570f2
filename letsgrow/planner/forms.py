"""The content plan form: it parses input; `letsgrow.planner.services.create_content_plan` holds the rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django import forms
from django.core.exceptions import ValidationError

from content.models import ContentDomain, ContentPlan
from letsgrow.lib.content_mix import ContentMixFields
from letsgrow.planner.services import MAX_DAYS, MAX_PLAN_PROMPT_LENGTH, MAX_POSTS_PER_DAY
from publishing.models import SocialAccount
from publishing.providers import DISPLAY_NAMES

# The service's argument names → the form's fields (the mix is shown under its own fieldset).
SERVICE_FIELDS = {
    "start_date": "start_date",
    "days": "days",
    "posts_per_day": "posts_per_day",
    "account_ids": "accounts",
    "prompt": "prompt",
    "destination": "destination",
}


def account_label(account: SocialAccount) -> str:
    return f"{DISPLAY_NAMES.get(account.platform, account.platform)} · {account.display_name or account.handle}"


class ContentPlanForm(ContentMixFields, forms.Form):
    start_date = forms.DateField(
        label="First day",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Give the first day of the plan.",
            "invalid": "Give the first day as a date, e.g. 2026-05-01.",
        },
    )
    days = forms.IntegerField(
        label="Days",
        widget=forms.NumberInput(attrs={"class": "form-control", "min": 1, "max": MAX_DAYS}),
        error_messages={"required": "Say how many days to plan.", "invalid": "Days must be a whole number."},
    )
    posts_per_day = forms.IntegerField(
        label="Posts per day",
        widget=forms.NumberInput(attrs={"class": "form-control", "min": 1, "max": MAX_POSTS_PER_DAY}),
        error_messages={
            "required": "Say how many posts a day.",
            "invalid": "Posts per day must be a whole number.",
        },
    )
    accounts = forms.MultipleChoiceField(
        label="Accounts",
        required=False,  # the service says what to choose
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose the accounts from the list; one of them is not connected here."},
    )
    prompt = forms.CharField(
        label="What the posts are about (optional)",
        required=False,
        max_length=MAX_PLAN_PROMPT_LENGTH,
        widget=forms.Textarea(
            attrs={
                "class": "form-control",
                "rows": 3,
                "placeholder": "Our spring menu, the farmers we work with, and tips for brewing at home",
            }
        ),
        help_text="Leave empty to write about the content domains. Each post takes its own angle on it.",
        error_messages={"max_length": "Keep the prompt under %(limit_value)d characters (it has %(show_value)d)."},
    )
    destination = forms.ChoiceField(
        label="Put the posts",
        choices=[
            (ContentPlan.Destination.REVIEW, "In the approval queue, each with its planned time"),
            (ContentPlan.Destination.DRAFTS, "In drafts, to edit before submitting"),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose where the posts go.",
            "invalid_choice": "Choose where the posts go: the approval queue or drafts.",
        },
    )

    def __init__(
        self,
        *args,
        domains: Sequence[ContentDomain],
        accounts: Sequence[SocialAccount],
        max_posts_per_day: int = MAX_POSTS_PER_DAY,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.mix_errors: list[str] = []
        self.fields["accounts"].choices = [(str(account.pk), account_label(account)) for account in accounts]
        self.fields["posts_per_day"].widget.attrs["max"] = max_posts_per_day
        self.add_mix_fields(domains)

    def service_kwargs(self) -> dict[str, object]:
        """The cleaned data in the shape `create_content_plan` takes."""
        data = self.cleaned_data
        return {
            "start_date": data["start_date"],
            "days": data["days"],
            "posts_per_day": data["posts_per_day"],
            "domain_mix": self.mix_values(data),
            "account_ids": [int(pk) for pk in data["accounts"]],
            "prompt": data["prompt"],
            "destination": data["destination"],
        }

    def add_service_errors(self, error: ValidationError) -> None:
        """Show the service's messages on their fields; the mix's under the mix, the rest on top."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for key, messages in error.message_dict.items():
            if key == "domain_mix":
                self.mix_errors.extend(messages)
            elif key in SERVICE_FIELDS:
                self.add_error(SERVICE_FIELDS[key], messages)
            else:
                self.add_error(None, messages)


def initial_mix(domains: Sequence[ContentDomain], saved: dict[str, int] | None) -> dict[str, int]:
    """The automation's content mix when it covers these domains, else an even split (the remainder to the first)."""
    keys = [domain.key for domain in domains]
    if saved and set(saved) == set(keys) and sum(int(value) for value in saved.values()) == 100:
        return {key: int(saved[key]) for key in keys}
    if not keys:
        return {}
    share, remainder = divmod(100, len(keys))
    return {key: share + (1 if index < remainder else 0) for index, key in enumerate(keys)}


def initial_values(
    *,
    domains: Sequence[ContentDomain],
    accounts: Sequence[SocialAccount],
    saved_mix: dict[str, int],
    tomorrow: date,
    per_day: int,
) -> dict[str, object]:
    """What a new plan's form starts with: tomorrow, 30 days, every account, the automation's mix."""
    values: dict[str, object] = {
        "start_date": tomorrow,
        "days": 30,
        "posts_per_day": per_day,
        "accounts": [str(account.pk) for account in accounts],
        "destination": ContentPlan.Destination.REVIEW,
    }
    for key, percent in initial_mix(domains, saved_mix).items():
        values[ContentPlanForm.mix_field_name(key)] = percent
    return values
