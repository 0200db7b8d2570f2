"""Template pages: the list, new, edit (with a preview per platform), delete, and rendering for the composer.

Thin views: they parse input, call `content.services_templates`, and render or
redirect. Editors write; every member reads. Ids go through `get_scoped_or_404`.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from content.models import ContentDomain, Template
from content.services_templates import (
    ANY_PLATFORM,
    BODY_MAX_LENGTH,
    NAME_MAX_LENGTH,
    create_template,
    delete_template,
    platform_choices,
    render_template,
    update_template,
    variables_of,
)
from publishing.models import SocialAccount
from publishing.providers import DISPLAY_NAMES
from publishing.variants import preview_for

# A value typed into the preview form is at most this long: it only fills one variable.
MAX_VALUE_LENGTH = 2000


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH, widget=forms.TextInput(attrs={"class": "form-control"}))
    body = forms.CharField(
        label="Text",
        max_length=BODY_MAX_LENGTH,
        help_text="Variables look like {product} or {link}: letters, digits and _. Write {{ or }} for a brace.",
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 6}),
    )
    platform = forms.ChoiceField(initial=ANY_PLATFORM, widget=forms.Select(attrs={"class": "form-select"}))
    domain = forms.ChoiceField(
        label="Content domain", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args, domains: list[ContentDomain], read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["platform"].choices = platform_choices()
        self.fields["domain"].choices = [("", "None"), *((domain.key, domain.name) for domain in domains)]
        if read_only:
            for field in self.fields.values():
                field.disabled = True


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _domains(workspace) -> list[ContentDomain]:
    return list(ContentDomain.objects.for_workspace(workspace).order_by("name"))


class ObjectFirstMixin:
    """Look the URL's template up before refusing a method, so another workspace's id is 404 for every method."""

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        get_scoped_or_404(Template, self.workspace, pk=kwargs["pk"])
        return super().http_method_not_allowed(request, *args, **kwargs)


class TemplateListView(WorkspaceMixin, View):
    """GET: the workspace's templates, with their variables, and its content domains."""

    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        templates = list(Template.objects.for_workspace(self.workspace).select_related("domain").order_by("name"))
        rows = [
            {
                "template": template,
                "platform": DISPLAY_NAMES.get(template.platform, "Any platform"),
                "variables": variables_of(template.body),
            }
            for template in templates
        ]
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "rows": rows,
            "domains": _domains(self.workspace),
            "may_edit": can(self.membership.role, Action.EDIT_CONTENT),
        }
        return render(request, "content/template_list.html", context)


class TemplateCreateView(WorkspaceMixin, View):
    """GET: an empty template form. POST: save it (create_template), then open it with its preview."""

    required_action = Action.EDIT_CONTENT

    def _page(self, form: TemplateForm, status: int = 200) -> HttpResponse:
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "form": form,
            "may_edit": True,
            "domains": _domains(self.workspace),
        }
        return render(self.request, "content/template_form.html", context, status=status)

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        return self._page(TemplateForm(domains=_domains(self.workspace)))

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        form = TemplateForm(request.POST, domains=_domains(self.workspace))
        if not form.is_valid():
            return self._page(form, status=400)
        data = form.cleaned_data
        try:
            template = create_template(
                workspace=self.workspace,
                actor=request.user,
                name=data["name"],
                body=data["body"],
                platform=data["platform"],
                domain_key=data["domain"],
            )
        except ValidationError as error:
            _add_errors(form, error)
            return self._page(form, status=400)
        messages.success(request, f"Saved the template “{template.name}”.")
        return redirect("content_templates:edit", workspace_slug=self.workspace.slug, pk=template.pk)


def _values(request: HttpRequest, names: list[str]) -> dict[str, str]:
    """Values for the template's variables from the query string (`v_<name>`), each trimmed and bounded."""
    return {name: request.GET.get(f"v_{name}", "").strip()[:MAX_VALUE_LENGTH] for name in names}


def platform_previews(workspace, template: Template, text: str) -> list[dict]:
    """How each connected account's platform counts `text` (only the template's platform, when it has one)."""
    accounts = SocialAccount.objects.for_workspace(workspace).exclude(status=SocialAccount.Status.REVOKED)
    if template.platform:
        accounts = accounts.filter(platform=template.platform)
    seen: set[tuple[str, str]] = set()
    previews = []
    for account in accounts.order_by("platform", "handle"):
        # One per platform (and Mastodon server): accounts on the same one count alike.
        key = (account.platform, str(account.config.get("instance", "")))
        if key in seen:
            continue
        seen.add(key)
        previews.append(preview_for(account, text, "", [], variables=variables_of(template.body)))
    return previews


class TemplateEditView(ObjectFirstMixin, WorkspaceMixin, View):
    """GET: the template (a read-only view for members who cannot write) and its preview, filled from
    `?v_<name>=`, with its length per platform. POST: save the changes (update_template)."""

    required_action = Action.VIEW
    write_action = Action.EDIT_CONTENT

    def _page(self, template: Template, form: TemplateForm, status: int = 200) -> HttpResponse:
        names = variables_of(template.body)
        values = _values(self.request, names)
        text, missing = render_template(template, values)
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "template": template,
            "form": form,
            "may_edit": can(self.membership.role, Action.EDIT_CONTENT),
            "values": values,
            "rendered": text,
            "missing": missing,
            "previews": platform_previews(self.workspace, template, text),
            "domains": _domains(self.workspace),
        }
        return render(self.request, "content/template_form.html", context, status=status)

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        template = get_scoped_or_404(Template, self.workspace, pk=pk)
        initial = {
            "name": template.name,
            "body": template.body,
            "platform": template.platform or ANY_PLATFORM,
            "domain": template.domain.key if template.domain else "",
        }
        read_only = not can(self.membership.role, Action.EDIT_CONTENT)
        form = TemplateForm(initial=initial, domains=_domains(self.workspace), read_only=read_only)
        return self._page(template, form)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        template = get_scoped_or_404(Template, self.workspace, pk=pk)
        form = TemplateForm(request.POST, domains=_domains(self.workspace))
        if not form.is_valid():
            return self._page(template, form, status=400)
        data = form.cleaned_data
        try:
            update_template(
                template=template,
                actor=request.user,
                name=data["name"],
                body=data["body"],
                platform=data["platform"],
                domain_key=data["domain"],
            )
        except ValidationError as error:
            template.refresh_from_db()
            _add_errors(form, error)
            return self._page(template, form, status=400)
        messages.success(request, f"Saved the template “{template.name}”.")
        return redirect("content_templates:edit", workspace_slug=self.workspace.slug, pk=template.pk)


class TemplateDeleteView(ObjectFirstMixin, WorkspaceMixin, View):
    """GET: ask to confirm. POST: delete the template (posts made from it keep their text)."""

    required_action = Action.EDIT_CONTENT

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        template = get_scoped_or_404(Template, self.workspace, pk=pk)
        context = {"workspace": self.workspace, "membership": self.membership, "template": template}
        return render(request, "content/template_confirm_delete.html", context)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        template = get_scoped_or_404(Template, self.workspace, pk=pk)
        name = template.name
        delete_template(template=template, actor=request.user)
        messages.success(request, f"Deleted the template “{name}”.")
        return redirect("content_templates:list", workspace_slug=self.workspace.slug)


class TemplateRenderView(ObjectFirstMixin, WorkspaceMixin, View):
    """GET: the template filled from `?v_<name>=`, as JSON {text, missing, variables}, for the composer."""

    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> JsonResponse:
        template = get_scoped_or_404(Template, self.workspace, pk=pk)
        names = variables_of(template.body)
        text, missing = render_template(template, _values(request, names))
        return JsonResponse(
            {
                "id": template.pk,
                "text": text,
                "missing": missing,
                "variables": names,
                "domain": template.domain.key if template.domain else "",
            }
        )
