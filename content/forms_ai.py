"""Forms of the AI pages: the generation controls, a generated result posted back, and the AI settings."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Workspace
from billing.limits import plan_for
from content.ai.base import MAX_PROMPT_LENGTH, GeneratedPost, clean_hashtags
from content.ai.services import MAX_RECORD_BYTES, AISettingsInput
from content.domains import BUILT_IN_DOMAINS
from content.models import ContentDomain, Document, Template
from publishing.models import SocialAccount
from publishing.providers import DISPLAY_NAMES, REGISTRY

CHECKBOX = {"class": "form-check-input"}
MAX_VARIANT_LENGTH = 70_000


def active_accounts(workspace: Workspace) -> list[SocialAccount]:
    return list(
        SocialAccount.objects.for_workspace(workspace)
        .filter(status=SocialAccount.Status.ACTIVE)
        .order_by("platform", "handle")
    )


def domain_choices(workspace: Workspace) -> list[tuple[str, str]]:
    """The workspace's domains; with none chosen yet, the built-in ones its plan allows."""
    rows = list(ContentDomain.objects.for_workspace(workspace).order_by("name").values_list("key", "name"))
    if rows:
        return rows
    allowed = plan_for(workspace).allowed_domains
    return [(key, spec.name) for key, spec in BUILT_IN_DOMAINS.items() if allowed is None or key in allowed]


class GenerateForm(forms.Form):
    """The controls: domain, platforms, prompt, creativity, hashtags, emojis, documents, template."""

    domain = forms.ChoiceField(label="Content domain", widget=forms.Select(attrs={"class": "form-select"}))
    platforms = forms.MultipleChoiceField(
        label="Write for",
        widget=forms.CheckboxSelectMultiple(attrs=CHECKBOX),
        error_messages={"required": "Choose at least one platform to write for."},
    )
    prompt = forms.CharField(
        label="What about?",
        required=False,
        max_length=MAX_PROMPT_LENGTH,
        help_text="A topic, an announcement, an angle. Empty: something fitting for the domain.",
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3, "maxlength": MAX_PROMPT_LENGTH}),
    )
    creativity = forms.FloatField(
        label="Creativity",
        min_value=0.0,
        max_value=2.0,
        initial=0.7,
        help_text="0 is predictable, 2 is adventurous.",
        error_messages={
            "min_value": "Creativity goes from 0 to 2.",
            "max_value": "Creativity goes from 0 to 2.",
            "invalid": "Creativity is a number from 0 to 2.",
        },
        widget=forms.NumberInput(attrs={"class": "form-range", "type": "range", "min": "0", "max": "2", "step": "0.1"}),
    )
    hashtags = forms.BooleanField(label="Hashtags", required=False, initial=True, widget=forms.CheckboxInput(CHECKBOX))
    emojis = forms.BooleanField(label="Emojis", required=False, initial=True, widget=forms.CheckboxInput(CHECKBOX))
    documents = forms.MultipleChoiceField(
        label="Use these documents as context",
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs=CHECKBOX),
    )
    template = forms.ChoiceField(
        label="Start from a template", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    attempt = forms.IntegerField(required=False, min_value=0, max_value=50, widget=forms.HiddenInput)

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["domain"].choices = domain_choices(workspace)
        platforms = sorted({account.platform for account in active_accounts(workspace)}, key=list(REGISTRY).index)
        self.fields["platforms"].choices = [(slug, DISPLAY_NAMES[slug]) for slug in platforms]
        self.documents_allowed = plan_for(workspace).document_context
        if self.documents_allowed:
            ready = Document.objects.for_workspace(workspace).filter(status=Document.Status.READY).order_by("-pk")
            self.fields["documents"].choices = [(str(doc.pk), doc.original_name) for doc in ready[:50]]
        else:
            del self.fields["documents"]
        templates = Template.objects.for_workspace(workspace).order_by("name")
        self.fields["template"].choices = [("", "No template")] + [(str(t.pk), t.name) for t in templates]

    def clean_domain(self) -> str:
        return self.cleaned_data["domain"]

    def clean_documents(self) -> tuple[int, ...]:
        return tuple(int(pk) for pk in self.cleaned_data.get("documents") or ())

    def clean_template(self) -> int | None:
        value = self.cleaned_data.get("template")
        return int(value) if value else None


class ResultForm(forms.Form):
    """A generated result travelling back from the page (hidden fields and the chosen accounts).

    Nothing here is trusted: the workspace comes from the URL, accounts and
    variants are checked again by the save service, the score is recomputed.
    """

    ACTIONS = ("proofread", "save_draft", "submit")

    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS], widget=forms.HiddenInput)
    title = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    content = forms.CharField(
        max_length=MAX_VARIANT_LENGTH,
        widget=forms.HiddenInput,
        error_messages={"required": "The generated post is missing: generate it again."},
    )
    hashtags = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)
    source = forms.ChoiceField(choices=[("ai", "ai"), ("offline", "offline")], widget=forms.HiddenInput)
    model_label = forms.CharField(required=False, max_length=300, widget=forms.HiddenInput)
    domain = forms.CharField(required=False, max_length=60, widget=forms.HiddenInput)
    generation = forms.CharField(required=False, max_length=MAX_RECORD_BYTES, widget=forms.HiddenInput)
    accounts = forms.MultipleChoiceField(
        label="Post to", required=False, widget=forms.CheckboxSelectMultiple(attrs=CHECKBOX)
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        for slug in REGISTRY:
            self.fields[f"variant_{slug}"] = forms.CharField(
                required=False, max_length=MAX_VARIANT_LENGTH, widget=forms.HiddenInput
            )
        self.fields["accounts"].choices = [(str(a.pk), str(a)) for a in active_accounts(workspace)]

    def clean_hashtags(self) -> list[str]:
        return clean_hashtags(self.cleaned_data.get("hashtags", "").split(), limit=30)

    def clean_generation(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("generation") or "{}"
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ValidationError("The generated post's details could not be read; generate it again.") from exc
        if not isinstance(value, dict):
            raise ValidationError("The generated post's details could not be read; generate it again.")
        return value

    def variants(self) -> dict[str, str]:
        return {
            slug: self.cleaned_data[f"variant_{slug}"]
            for slug in REGISTRY
            if (self.cleaned_data.get(f"variant_{slug}") or "").strip()
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("action") in ("save_draft", "submit") and not cleaned.get("accounts"):
            self.add_error("accounts", "Choose at least one account to post to.")
        if not self.errors and not self.variants():
            raise ValidationError("The generated post is missing: generate it again.")
        return cleaned

    def generated_post(self) -> GeneratedPost:
        """The result as the page sent it (for showing it again and proofreading; saving re-checks it)."""
        data = self.cleaned_data
        record = data.get("generation") or {}
        return GeneratedPost(
            title=data.get("title", ""),
            content=data["content"],
            hashtags=data.get("hashtags") or [],
            variants=self.variants(),
            source=data["source"],
            model_label=data.get("model_label", ""),
            prompt_tokens=0,
            completion_tokens=0,
            generation_record=record,
        )


class AISettingsForm(forms.Form):
    """The workspace's own model. Keys are write-only: never rendered back, blank keeps the stored one."""

    base_url = forms.CharField(
        label="Base URL",
        required=False,
        max_length=500,
        help_text="An OpenAI-compatible API, e.g. https://api.openai.com/v1, https://api.mistral.ai/v1, "
        "https://api.groq.com/openai/v1. Empty: use the server's model.",
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://api.openai.com/v1"}),
    )
    model = forms.CharField(
        label="Model",
        required=False,
        max_length=120,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "gpt-4o-mini"}),
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(attrs={"class": "form-control", "autocomplete": "off"}, render_value=False),
    )
    clear_api_key = forms.BooleanField(
        label="Clear the stored key", required=False, widget=forms.CheckboxInput(CHECKBOX)
    )
    fallback_base_url = forms.CharField(
        label="Fallback base URL",
        required=False,
        max_length=500,
        help_text="Used when the main model times out, is rate-limited, fails or answers nonsense.",
        widget=forms.URLInput(attrs={"class": "form-control"}),
    )
    fallback_model = forms.CharField(
        label="Fallback model", required=False, max_length=120, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    fallback_api_key = forms.CharField(
        label="Fallback API key",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(attrs={"class": "form-control", "autocomplete": "off"}, render_value=False),
    )
    clear_fallback_api_key = forms.BooleanField(
        label="Clear the stored fallback key", required=False, widget=forms.CheckboxInput(CHECKBOX)
    )
    brand_voice = forms.CharField(
        label="Brand voice",
        required=False,
        max_length=2000,
        help_text="How the workspace sounds: words you use and avoid, formality, humour. Sent with every request.",
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 4, "maxlength": 2000}),
    )

    def to_input(self) -> AISettingsInput:
        data = self.cleaned_data
        return AISettingsInput(
            base_url=data.get("base_url", ""),
            model=data.get("model", ""),
            api_key=data.get("api_key") or None,
            clear_api_key=bool(data.get("clear_api_key")),
            fallback_base_url=data.get("fallback_base_url", ""),
            fallback_model=data.get("fallback_model", ""),
            fallback_api_key=data.get("fallback_api_key") or None,
            clear_fallback_api_key=bool(data.get("clear_fallback_api_key")),
            brand_voice=data.get("brand_voice", ""),
        )
