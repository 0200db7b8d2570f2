"""AI pages: generate posts (regenerate, variations, proofread, save, submit) and the workspace's AI settings.

Thin views: parse the form, call one service of content.ai, render. A generated
result travels between requests in hidden fields; saving checks it all again.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.permissions import Action
from accounts.views.mixins import WorkspaceMixin
from content.ai.base import GeneratedPost, GenerationRequest, checkers_for
from content.ai.client import AIUnavailable, endpoints_for
from content.ai.generation import generate_post, proofread_generated, variations
from content.ai.offline import OFFLINE_LABEL, generate_offline
from content.ai.services import (
    AISettingsInput,
    check_ai_connection,
    save_ai_settings,
    save_generated_post,
)
from content.ai.usage import usage_this_month
from content.forms_ai import AISettingsForm, GenerateForm, ResultForm, active_accounts
from content.models import AISettings
from publishing.providers import DISPLAY_NAMES
from publishing.views import ICONS

GENERATE_ACTIONS = ("generate", "regenerate", "variations")
RESULT_ACTIONS = ResultForm.ACTIONS
# Service error codes → the form field they are about.
GENERATE_ERROR_FIELDS = {
    "domain": "domain",
    "platforms": "platforms",
    "temperature": "creativity",
    "prompt": "prompt",
    "documents": "documents",
    "template": "template",
}
SAVE_ERROR_FIELDS = {"accounts": "accounts", "variants": "accounts"}


@dataclass(frozen=True)
class VariantRow:
    slug: str
    name: str
    icon: str
    text: str
    length: int
    limit: int
    fits: bool


@dataclass(frozen=True)
class AccountChoice:
    pk: int
    label: str
    platform: str
    checked: bool


@dataclass
class ResultCard:
    post: GeneratedPost
    form: ResultForm
    variants: list[VariantRow]
    accounts: list[AccountChoice]
    changes: list[str]

    @property
    def is_offline(self) -> bool:
        return self.post.source != "ai"


def _add_errors(form: Any, error: ValidationError, fields: dict[str, str]) -> None:
    """Put a service's ValidationError on the form: by field name, else by its code, else on the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for item in errors:
                form.add_error(field if field in form.fields else None, " ".join(item.messages))
        return
    for item in error.error_list:
        field = fields.get(item.code or "")
        form.add_error(field if field and field in form.fields else None, " ".join(item.messages))


class AIGenerateView(WorkspaceMixin, View):
    """GET: the controls. POST: generate, regenerate, variations; proofread, save as draft or submit a result."""

    template_name = "content/ai_generate.html"
    required_action = Action.EDIT_CONTENT

    # -- rendering
    def _card(
        self,
        post: GeneratedPost,
        *,
        form: ResultForm | None = None,
        chosen: set[int] | None = None,
        changes: list[str] | None = None,
    ) -> ResultCard:
        if form is None:
            initial = {
                "title": post.title,
                "content": post.content,
                "hashtags": " ".join(post.hashtags),
                "source": post.source,
                "model_label": post.model_label,
                "domain": post.generation_record.get("domain", ""),
                "generation": _json(post.generation_record),
                **{f"variant_{slug}": text for slug, text in post.variants.items()},
            }
            form = ResultForm(initial=initial, workspace=self.workspace)
        lengths = post.lengths
        if not lengths and post.variants:
            checkers = checkers_for(self.workspace, list(post.variants))
            for slug, text in post.variants.items():
                check = checkers[slug].check(text)
                lengths[slug] = (check.length, check.max_length)
        rows = [
            VariantRow(
                slug=slug,
                name=DISPLAY_NAMES.get(slug, slug),
                icon=ICONS.get(slug, "globe"),
                text=text,
                length=lengths.get(slug, (len(text), 0))[0],
                limit=lengths.get(slug, (len(text), 0))[1],
                fits=lengths.get(slug, (0, 1))[0] <= lengths.get(slug, (0, 1))[1],
            )
            for slug, text in post.variants.items()
        ]
        accounts = [
            AccountChoice(
                pk=account.pk,
                label=str(account),
                platform=account.platform,
                checked=account.pk in chosen if chosen is not None else True,
            )
            for account in active_accounts(self.workspace)
            if account.platform in post.variants
        ]
        return ResultCard(post=post, form=form, variants=rows, accounts=accounts, changes=list(changes or []))

    def render_page(
        self,
        form: GenerateForm,
        *,
        cards: list[ResultCard] | None = None,
        unavailable: AIUnavailable | None = None,
        status: int = 200,
    ) -> HttpResponse:
        endpoints = endpoints_for(self.workspace)
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "form": form,
            "cards": cards or [],
            "unavailable": unavailable,
            "llm_configured": bool(endpoints),
            "model_labels": [endpoint.label for endpoint in endpoints],
            "offline_label": OFFLINE_LABEL,
            "usage": usage_this_month(self.workspace),
            "has_accounts": bool(form.fields["platforms"].choices),
            "may_configure": self.membership.role in ("owner", "admin"),
        }
        return render(self.request, self.template_name, context, status=status)

    def _initial(self) -> dict[str, Any]:
        form = GenerateForm(workspace=self.workspace)
        choices = form.fields["domain"].choices
        return {
            "domain": choices[0][0] if choices else "",
            "platforms": [slug for slug, _name in form.fields["platforms"].choices],
            "creativity": 0.7,
            "hashtags": True,
            "emojis": True,
            "attempt": 0,
        }

    def _form_from_record(self, record: dict[str, Any]) -> GenerateForm:
        """The controls that made a result, to show them again next to it (never trusted: only initial values)."""
        initial = self._initial()
        controls = record.get("controls") if isinstance(record.get("controls"), dict) else {}
        initial.update(
            domain=str(record.get("domain") or initial["domain"]),
            prompt=str(record.get("prompt") or ""),
            platforms=[str(slug) for slug in controls.get("platforms", initial["platforms"]) if isinstance(slug, str)],
            hashtags=bool(controls.get("hashtags", True)),
            emojis=bool(controls.get("emojis", True)),
        )
        with contextlib.suppress(TypeError, ValueError):
            initial["creativity"] = float(record.get("temperature", 0.7))
        return GenerateForm(initial=initial, workspace=self.workspace)

    # -- GET
    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        return self.render_page(GenerateForm(initial=self._initial(), workspace=self.workspace))

    # -- POST
    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        action = request.POST.get("action", "generate")
        if action in RESULT_ACTIONS:
            return self._result_action()
        form = GenerateForm(request.POST, workspace=self.workspace)
        if action not in GENERATE_ACTIONS:
            form.is_valid()
            form.add_error(None, "Use the buttons on the page to generate a post.")
            return self.render_page(form, status=400)
        if not form.is_valid():
            return self.render_page(form, status=400)
        data = form.cleaned_data
        attempt = (data.get("attempt") or 0) + (1 if action == "regenerate" else 0)
        if action == "regenerate":
            bound = request.POST.copy()
            bound["attempt"] = str(attempt)
            form = GenerateForm(bound, workspace=self.workspace)
            form.is_valid()
        generation = GenerationRequest(
            workspace=self.workspace,
            domain_key=data["domain"],
            platforms=list(data["platforms"]),
            prompt=data.get("prompt", ""),
            temperature=data["creativity"],
            hashtags=data["hashtags"],
            emojis=data["emojis"],
            document_ids=data.get("documents") or (),
            template_id=data.get("template"),
        )
        try:
            if action == "variations":
                posts = variations(generation, n=3)
            else:
                posts = [generate_post(generation, attempt=attempt)]
        except ValidationError as error:
            _add_errors(form, error, GENERATE_ERROR_FIELDS)
            return self.render_page(form, status=400)
        except AIUnavailable as unavailable:
            # Offer what works without the model, clearly labelled, rather than nothing.
            offline = generate_offline(generation, variation=attempt, failures=unavailable.failures)
            return self.render_page(form, cards=[self._card(offline)], unavailable=unavailable)
        return self.render_page(form, cards=[self._card(post) for post in posts])

    def _result_action(self) -> HttpResponse:
        request = self.request
        result_form = ResultForm(request.POST, workspace=self.workspace)
        if not result_form.is_valid():
            record = result_form.cleaned_data.get("generation") if hasattr(result_form, "cleaned_data") else None
            form = self._form_from_record(record if isinstance(record, dict) else {})
            cards = []
            if result_form.cleaned_data.get("content") and result_form.cleaned_data.get("source"):
                post = result_form.generated_post()
                cards = [self._card(post, form=result_form, chosen=_chosen(result_form))]
            else:
                form.add_error(None, " ".join(_all_errors(result_form)))
            return self.render_page(form, cards=cards, status=400)
        data = result_form.cleaned_data
        post = result_form.generated_post()
        form = self._form_from_record(data["generation"])
        if data["action"] == "proofread":
            try:
                corrected, changes = proofread_generated(workspace=self.workspace, post=post)
            except ValidationError as error:
                result_form.add_error(None, " ".join(error.messages))
                return self.render_page(form, cards=[self._card(post, form=result_form)], status=400)
            card = self._card(corrected, chosen=_chosen(result_form), changes=changes or ["Nothing needed fixing."])
            return self.render_page(form, cards=[card])
        try:
            saved = save_generated_post(
                workspace=self.workspace,
                author=request.user,
                content=data["content"],
                hashtags=data["hashtags"],
                variants=result_form.variants(),
                account_ids=[int(pk) for pk in data["accounts"]],
                domain_key=data.get("domain", ""),
                generation=data["generation"],
                source=data["source"],
                submit=data["action"] == "submit",
            )
        except ValidationError as error:
            _add_errors(result_form, error, SAVE_ERROR_FIELDS)
            card = self._card(post, form=result_form, chosen=_chosen(result_form))
            return self.render_page(form, cards=[card], status=400)
        if data["action"] == "submit":
            messages.success(request, "Saved and sent for approval.")
        else:
            messages.success(request, "Saved as a draft.")
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=saved.pk)


def _chosen(form: ResultForm) -> set[int]:
    values = form.cleaned_data.get("accounts") if hasattr(form, "cleaned_data") else None
    values = values if values is not None else form.data.getlist("accounts")
    chosen = set()
    for value in values or []:
        try:
            chosen.add(int(value))
        except (TypeError, ValueError):
            continue
    return chosen


def _all_errors(form: Any) -> list[str]:
    return [str(message) for errors in form.errors.values() for message in errors]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


# --------------------------------------------------------------------------- settings


class AISettingsView(WorkspaceMixin, View):
    """GET: the workspace's AI settings (keys never shown). POST: save, or test the connection as typed."""

    template_name = "content/ai_settings.html"
    required_action = Action.MANAGE_SETTINGS

    def _row(self) -> AISettings | None:
        return AISettings.objects.for_workspace(self.workspace).first()

    def render_page(self, form: AISettingsForm, *, status: int = 200, tested: str = "") -> HttpResponse:
        row = self._row()
        endpoints = endpoints_for(self.workspace)
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "form": form,
            "api_key_set": bool(row and row.api_key),
            "fallback_api_key_set": bool(row and row.fallback_api_key),
            "uses_own": bool(row and (row.base_url or row.fallback_base_url)),
            "model_labels": [endpoint.label for endpoint in endpoints],
            "offline_label": OFFLINE_LABEL,
            "usage": usage_this_month(self.workspace),
            "tested": tested,
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        row = self._row()
        initial = {}
        if row is not None:
            initial = {
                "base_url": row.base_url,
                "model": row.model,
                "fallback_base_url": row.fallback_base_url,
                "fallback_model": row.fallback_model,
                "brand_voice": row.brand_voice,
            }
        return self.render_page(AISettingsForm(initial=initial))

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        form = AISettingsForm(request.POST)
        action = request.POST.get("action", "save")
        if not form.is_valid():
            return self.render_page(form, status=400)
        data: AISettingsInput = form.to_input()
        try:
            if action in ("test", "test_fallback"):
                outcome = check_ai_connection(
                    workspace=self.workspace, actor=request.user, data=data, fallback=action == "test_fallback"
                )
                return self.render_page(form, tested=outcome)
            if action != "save":
                raise ValidationError("Use the buttons on the page.")
            save_ai_settings(workspace=self.workspace, actor=request.user, data=data)
        except ValidationError as error:
            _add_errors(form, error, {"base_url": "base_url", "fallback_base_url": "fallback_base_url"})
            return self.render_page(form, status=400)
        messages.success(request, "AI settings saved.")
        return redirect("content_ai:settings", workspace_slug=self.workspace.slug)
