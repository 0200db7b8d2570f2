"""Post pages: the workspace's posts, one post's delivery (status, errors, retry, cancel, history), the composer.

Thin views: they parse input, call the services of `publishing.scheduling`, and
render or redirect. Object ids are always fetched through `get_scoped_or_404`.
The composer's live counter asks `PostValidateView`, which runs each platform's
own `validate()` (`publishing.variants.preview_drafts`); without JavaScript the
same checks run when the form is sent.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from content.models import ContentDomain, MediaAsset, Post, PostMedia, Tag, Template
from publishing import scheduling
from publishing.delivery import KIND_ACCOUNT, KIND_LEASE, KIND_PLAN_LIMIT, KIND_POST, KIND_TOKEN, KIND_UNCONFIRMED
from publishing.models import PostTarget, SocialAccount
from publishing.providers import DISPLAY_NAMES
from publishing.services import known_timezones
from publishing.variants import preview_drafts
from publishing.views import ICONS

PS = Post.Status
TS = PostTarget.Status
POSTS_PER_PAGE = 25

POST_BADGES: dict[str, str] = {
    PS.DRAFT: "text-bg-secondary",
    PS.PENDING_REVIEW: "text-bg-info",
    PS.APPROVED: "text-bg-primary",
    PS.REJECTED: "text-bg-warning",
    PS.SCHEDULED: "text-bg-primary",
    PS.PUBLISHING: "text-bg-info",
    PS.PUBLISHED: "text-bg-success",
    PS.PARTIALLY_PUBLISHED: "text-bg-warning",
    PS.FAILED: "text-bg-danger",
    PS.CANCELLED: "text-bg-secondary",
}
TARGET_BADGES: dict[str, str] = {
    TS.PENDING: "text-bg-secondary",
    TS.SCHEDULED: "text-bg-primary",
    TS.PUBLISHING: "text-bg-info",
    TS.PUBLISHED: "text-bg-success",
    TS.FAILED: "text-bg-danger",
    TS.UNCONFIRMED: "text-bg-warning",
    TS.MISSED: "text-bg-warning",
    TS.CANCELLED: "text-bg-secondary",
}
# A retry sends the post again: only where nothing went out.
RETRYABLE = frozenset({TS.FAILED, TS.MISSED})

# The delivery engine's error kinds (publishing.providers.base.ErrorKind), explained for people.
ERROR_HELP: dict[str, tuple[str, str]] = {
    "rate_limited": (
        "Too many posts at once",
        "The platform asked LetsGrow to slow down. Retrying a little later usually works.",
    ),
    "auth_expired": (
        "The connection has expired",
        "The platform no longer accepts this account's access. Reconnect the account on the Connections page, "
        "then retry.",
    ),
    "duplicate": (
        "Duplicate post",
        "The platform refuses a post identical to one it already has. Change the text before posting it again.",
    ),
    "invalid_content": (
        "The platform refused the content",
        "Something in the post breaks the platform's rules (length, media, links). Fix the post: a retry as it is "
        "fails again.",
    ),
    "transient": (
        "The platform had a temporary problem",
        "The platform was unavailable or failed. Retrying usually works.",
    ),
    "permanent": (
        "The platform refused the post",
        "See the platform's message below.",
    ),
}
UNKNOWN_ERROR = ("Publishing failed", "See the message below.")
MISSED_HELP = (
    "Missed its time",
    "It could not go out close enough to its time (for example during an outage or an emergency stop), so LetsGrow "
    "held it back rather than post it late. Retry to post it now.",
)
# What LetsGrow itself found (not a platform's answer): the page says so, not "<platform> said".
OWN_ERROR_HELP: dict[str, tuple[str, str]] = {
    KIND_PLAN_LIMIT: (
        "Over the plan's limit",
        "When it was due, the workspace's plan had no room left for it. Retry once there is room: the next day, "
        "or after upgrading.",
    ),
    KIND_ACCOUNT: (
        "The account could not publish",
        "The account was disconnected or needs reconnecting. Reconnect it on the Connections page, then retry.",
    ),
    KIND_TOKEN: (
        "The account's access is missing",
        "LetsGrow holds no usable access for this account. Reconnect it on the Connections page, then retry.",
    ),
    KIND_POST: ("The post was not ready", "The post was no longer approved when it was due."),
    KIND_LEASE: (
        "Interrupted while sending",
        "The worker sending it stopped. LetsGrow looks the post up on the platform before anything is sent again, "
        "so it is never posted twice.",
    ),
    KIND_UNCONFIRMED: (
        "Not confirmed",
        "The platform did not say clearly whether it made the post. LetsGrow looks it up there and never sends it "
        "twice on its own.",
    ),
    TS.MISSED: MISSED_HELP,
}


# --------------------------------------------------------------------------- rows for the templates


@dataclass(frozen=True)
class Platform:
    slug: str
    name: str
    icon: str


def _platform(slug: str) -> Platform:
    return Platform(slug=slug, name=DISPLAY_NAMES.get(slug, slug), icon=ICONS.get(slug, "globe"))


@dataclass(frozen=True)
class PostRow:
    post: Post
    badge: str
    platforms: list[Platform]
    scheduled_at: datetime | None  # the earliest time of a target still to go out, else of any target
    published_at: datetime | None  # the latest publication
    failed: int  # targets that failed or missed


def _post_row(post: Post) -> PostRow:
    targets = [target for target in post.targets.all() if target.status != TS.CANCELLED]
    waiting = [t.scheduled_at for t in targets if t.scheduled_at and t.status in (TS.SCHEDULED, TS.PENDING)]
    any_time = [t.scheduled_at for t in targets if t.scheduled_at]
    published = [t.published_at for t in targets if t.published_at]
    slugs = dict.fromkeys(target.social_account.platform for target in targets)
    return PostRow(
        post=post,
        badge=POST_BADGES.get(post.status, "text-bg-secondary"),
        platforms=[_platform(slug) for slug in slugs],
        scheduled_at=min(waiting or any_time, default=None),
        published_at=max(published, default=None),
        failed=sum(target.status in RETRYABLE for target in targets),
    )


@dataclass(frozen=True)
class TargetRow:
    target: PostTarget
    platform: Platform
    badge: str
    error_title: str
    error_help: str
    may_retry: bool
    platform_said: bool = False  # the error is the platform's own answer (else LetsGrow's finding)
    own_media: tuple[MediaAsset, ...] = ()  # the target's own files, when it does not take the post's


def _target_row(target: PostTarget, *, may_schedule: bool, media: Iterable[PostMedia] = ()) -> TargetRow:
    title, help_text = "", ""
    if target.status == TS.MISSED and not target.error_kind:
        title, help_text = MISSED_HELP
    elif target.error_kind in OWN_ERROR_HELP:
        title, help_text = OWN_ERROR_HELP[target.error_kind]
    elif target.error_kind or target.last_error:
        title, help_text = ERROR_HELP.get(target.error_kind, UNKNOWN_ERROR)
    return TargetRow(
        target=target,
        platform=_platform(target.social_account.platform),
        badge=TARGET_BADGES.get(target.status, "text-bg-secondary"),
        error_title=title,
        error_help=help_text,
        may_retry=may_schedule and target.status in RETRYABLE,
        platform_said=target.error_kind in ERROR_HELP,
        own_media=tuple(row.asset for row in media if row.target_id == target.pk),
    )


# --------------------------------------------------------------------------- the list


class PostListView(WorkspaceMixin, View):
    """GET: the workspace's posts, newest first, paginated. A constant number of queries.

    Filters: `?status=`, `?tag=` (a tag's name, any case) and `?q=` (words in the text or a variant).
    """

    template_name = "publishing/post_list.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        status = request.GET.get("status", "")
        if status not in PS.values:
            status = ""
        tag = " ".join(request.GET.get("tag", "").split())[:50]
        query = " ".join(request.GET.get("q", "").split())[:200]
        posts = (
            Post.objects.for_workspace(self.workspace)
            .select_related("author")
            .prefetch_related(
                Prefetch("targets", queryset=PostTarget.objects.select_related("social_account").order_by("pk")),
                Prefetch("tags", queryset=Tag.objects.order_by("name")),
            )
            .order_by("-created_at", "-pk")
        )
        if status:
            posts = posts.filter(status=status)
        if tag:
            posts = posts.filter(tags__name__iexact=tag)
        if query:
            # A subquery, not a join: a post matching in several variants is listed once.
            matching = PostTarget.objects.filter(workspace=self.workspace, text__icontains=query).values("post_id")
            posts = posts.filter(Q(text__icontains=query) | Q(pk__in=matching))
        filters = {key: value for key, value in (("status", status), ("tag", tag), ("q", query)) if value}
        page = Paginator(posts, POSTS_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "page": page,
            "rows": [_post_row(post) for post in page.object_list],
            "status": status,
            "tag": tag,
            "query": query,
            "filters": urlencode(filters),
            "status_filters": urlencode({key: value for key, value in filters.items() if key != "status"}),
            "statuses": PS.choices,
            "tags": list(Tag.objects.for_workspace(self.workspace).order_by("name").values_list("name", flat=True)),
            "may_create": can(self.membership.role, Action.EDIT_CONTENT),
        }
        return render(request, self.template_name, context)


# --------------------------------------------------------------------------- one post


class ObjectFirstMixin:
    """Look the URL's object up before refusing a method, so another workspace's id is 404 for every method."""

    model: type[Post] | type[PostTarget]

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        get_scoped_or_404(self.model, self.workspace, pk=kwargs["pk"])
        return super().http_method_not_allowed(request, *args, **kwargs)


class PostDetailView(ObjectFirstMixin, WorkspaceMixin, View):
    """GET: one post: what each account gets, each target's status, times, link and error, retry, cancel,
    edit and duplicate, and the history."""

    template_name = "publishing/post_detail.html"
    required_action = Action.VIEW
    model = Post

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        role = self.membership.role
        may_schedule = can(role, Action.SCHEDULE)
        may_edit = can(role, Action.EDIT_CONTENT)
        targets = list(post.targets.select_related("social_account").order_by("pk"))
        media = list(PostMedia.objects.filter(post=post).select_related("asset").order_by("position", "pk"))
        events = post.events.select_related("actor", "target__social_account").order_by("created_at", "pk")
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "post": post,
            "badge": POST_BADGES.get(post.status, "text-bg-secondary"),
            "targets": [_target_row(target, may_schedule=may_schedule, media=media) for target in targets],
            "shared_media": [row.asset for row in media if row.target_id is None],
            "tags": list(post.tags.order_by("name")),
            "events": list(events),
            "may_cancel": may_schedule and post.status not in (PS.PUBLISHED, PS.CANCELLED),
            "may_edit": may_edit and post.status in scheduling.EDITABLE,
            "may_duplicate": may_edit,
        }
        return render(request, self.template_name, context)


class PostCancelView(ObjectFirstMixin, WorkspaceMixin, View):
    """POST: cancel what of the post has not gone out (scheduling.cancel_post)."""

    required_action = Action.SCHEDULE
    model = Post

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        get_scoped_or_404(Post, self.workspace, pk=pk)
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=pk)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        try:
            scheduling.cancel_post(post=post, actor=request.user, reason=request.POST.get("reason", ""))
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, "Cancelled: nothing more of this post will be published.")
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)


class TargetRetryView(ObjectFirstMixin, WorkspaceMixin, View):
    """POST: send a failed or missed target again, now (scheduling.retry_target). Never a published one."""

    required_action = Action.SCHEDULE
    model = PostTarget

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        target = get_scoped_or_404(PostTarget, self.workspace, pk=pk)
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=target.post_id)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        target = get_scoped_or_404(PostTarget, self.workspace, pk=pk)
        try:
            scheduling.retry_target(target=target, actor=request.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, "Retrying now: it goes out in a moment.")
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=target.post_id)


# --------------------------------------------------------------------------- the composer

# How many of the library's newest files the media picker offers (plus any already attached).
MEDIA_CHOICES = 48
WHEN_CHOICES = [
    ("draft", "Save draft"),
    ("submit", "Submit for approval"),
    ("at", "Schedule"),
    ("queue", "Add to queue"),
    ("now", "Post now"),
]
SENDING = frozenset({"at", "queue", "now"})


class ComposerForm(forms.Form):
    """One post: text, accounts, per-account variants (text, link, media), tags, domain, template and when.

    The buttons submit `when`; times are local wall-clock times in the chosen zone. Per-account
    fields are `variant_<id>`, `link_<id>` and `media_<id>`, one set per account offered.
    """

    text = forms.CharField(widget=forms.Textarea(attrs={"class": "form-control", "rows": 6}))
    accounts = forms.MultipleChoiceField(
        label="Post to", widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )
    link = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=2000,
        help_text="Added to the post where the platform shows links; each account may have its own below.",
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://"}),
    )
    media = forms.TypedMultipleChoiceField(
        label="Media", required=False, coerce=int, widget=forms.CheckboxSelectMultiple(attrs={"class": "btn-check"})
    )
    tags = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Separate tags with commas, e.g. launch, spring sale.",
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "launch, spring sale"}),
    )
    domain = forms.ChoiceField(
        label="Content domain", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    template_id = forms.CharField(required=False, widget=forms.HiddenInput)
    when = forms.ChoiceField(choices=WHEN_CHOICES, required=False, initial="at")
    scheduled_at = forms.CharField(
        label="Date and time",
        required=False,
        widget=forms.DateTimeInput(attrs={"class": "form-control", "type": "datetime-local"}),
    )
    timezone = forms.ChoiceField(label="Time zone", widget=forms.Select(attrs={"class": "form-select"}))
    # Set once the person has seen the warnings (by the live check, or by the page that listed them).
    acknowledge_warnings = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args,
        accounts: list[SocialAccount],
        assets: list[MediaAsset],
        domains: list[ContentDomain],
        fixed_accounts: bool = False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.offered_accounts = accounts
        self.fields["accounts"].choices = [(str(account.pk), str(account)) for account in accounts]
        if fixed_accounts:
            # Editing: the post's accounts are shown, not changed (duplicate the post to send it elsewhere).
            self.fields["accounts"].disabled = True
            self.fields["accounts"].required = False
        media_choices = [(asset.pk, str(asset)) for asset in assets]
        self.assets = {asset.pk: asset for asset in assets}
        self.fields["media"].choices = media_choices
        self.fields["domain"].choices = [("", "None"), *((domain.key, domain.name) for domain in domains)]
        self.fields["timezone"].choices = [(name, name.replace("_", " ")) for name in sorted(known_timezones())]
        for account in accounts:
            self.fields[f"variant_{account.pk}"] = forms.CharField(
                label=f"Text for {account}",
                required=False,
                help_text="Leave empty to use the post's text.",
                widget=forms.Textarea(attrs={"class": "form-control", "rows": 4}),
            )
            self.fields[f"link_{account.pk}"] = forms.URLField(
                label=f"Link for {account}",
                required=False,
                assume_scheme="https",
                max_length=2000,
                help_text="Leave empty to use the post's link.",
                widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://"}),
            )
            self.fields[f"media_{account.pk}"] = forms.TypedMultipleChoiceField(
                label=f"Media for {account}",
                required=False,
                coerce=int,
                choices=media_choices,
                help_text="None chosen: the post's media.",
                widget=forms.CheckboxSelectMultiple(attrs={"class": "btn-check"}),
            )

    def account_panels(self) -> list[dict]:
        """Each offered account with its own variant fields, for the per-account tabs."""
        return [
            {
                "account": account,
                "platform": _platform(account.platform),
                "text": self[f"variant_{account.pk}"],
                "link": self[f"link_{account.pk}"],
                "media": self[f"media_{account.pk}"],
                "media_options": self.media_options(f"media_{account.pk}"),
            }
            for account in self.offered_accounts
        ]

    def media_options(self, name: str) -> list[dict]:
        """The checkboxes of a media field, each with its library file (for the thumbnail)."""
        return [{"widget": choice, "asset": self.assets.get(int(choice.data["value"]))} for choice in self[name]]

    def clean_scheduled_at(self) -> datetime | None:
        value = self.cleaned_data["scheduled_at"].strip()
        if not value:
            return None
        try:
            local = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError("Give the date and time as YYYY-MM-DD HH:MM.") from exc
        if local.tzinfo is not None:
            raise ValidationError("Give the local time, without a time zone offset; choose the zone below.")
        return local

    def clean_when(self) -> str:
        # Enter in a text field, or a script submitting the form, sends no button: the safe default.
        return self.cleaned_data["when"] or "draft"

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("when") == "at" and not cleaned.get("scheduled_at") and "scheduled_at" not in self.errors:
            self.add_error("scheduled_at", "Choose a date and time, or post now or add it to the queue.")
        return cleaned

    def content(self, account_ids: list[int]) -> dict:
        """The service keyword arguments for what the post says, for `account_ids`."""
        data = self.cleaned_data
        return {
            "text": data["text"],
            "variants": {account_id: data.get(f"variant_{account_id}", "") for account_id in account_ids},
            "link": data["link"],
            "links": {account_id: data.get(f"link_{account_id}", "") for account_id in account_ids},
            "media_ids": data["media"],
            "target_media": {account_id: data.get(f"media_{account_id}", []) for account_id in account_ids},
            "tags": data["tags"].split(","),
            "template_id": data["template_id"] or None,
            "domain_key": data["domain"],
        }


# Service error codes (publishing.scheduling) → the form field they are about.
ERROR_FIELDS: dict[str, str] = {
    "accounts": "accounts",
    "variants": "accounts",
    "link": "link",
    "links": "link",
    "media": "media",
    "tags": "tags",
    "domain": "domain",
    "content": "text",
    "past": "scheduled_at",
    "nonexistent_time": "scheduled_at",
    "when": "scheduled_at",
    "timezone": "timezone",
}


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for message in error.messages:
        form.add_error(ERROR_FIELDS.get(getattr(error, "code", None) or ""), message)


def send_on(post: Post, *, when: str, data: dict, actor) -> str:
    """Do what the composer's button asked after saving; when the post needs review first, submit it instead.

    Returns what happened, in words. Raises ValidationError from the services.
    """
    if when == "draft":
        return "Saved as a draft." if post.status == PS.DRAFT else "Saved."
    if when == "submit":
        if post.status == PS.PENDING_REVIEW:
            return "Saved. It is waiting for review."
        scheduling.submit_for_review(post=post, actor=actor)
        return "Sent for review."
    try:
        with transaction.atomic():
            if when == "queue":
                scheduling.add_to_queue(post=post, actor=actor)
                return "Added to the queue."
            scheduling.schedule_post(
                post=post,
                actor=actor,
                when_local=data["scheduled_at"] if when == "at" else None,
                tz=data["timezone"],
                post_now=when == "now",
            )
            return "Posting now." if when == "now" else "Scheduled."
    except ValidationError as error:
        if getattr(error, "code", None) != "not_approved":
            raise
    if when == "at":
        scheduling.propose_time(post=post, actor=actor, when_local=data["scheduled_at"], tz=data["timezone"])
    if post.status != PS.PENDING_REVIEW:
        scheduling.submit_for_review(post=post, actor=actor)
    if post.source == Post.Source.MANUAL:
        sent = "Sent for review: this workspace approves posts before they go out."
    else:
        kind = "generated with AI" if post.source == Post.Source.AI else "made from a template"
        sent = f"Sent for review: posts {kind} are always approved before they go out."
    if when == "at":
        return f"{sent} Once approved it goes out at the time you chose; if it is still waiting then, it waits."
    return f"{sent} Schedule it once it is approved."


def _library(workspace, attached: list[int] = ()) -> list[MediaAsset]:
    """The newest files of the library for the picker, plus the ones already attached."""
    newest = list(MediaAsset.objects.for_workspace(workspace).order_by("-created_at", "-pk")[:MEDIA_CHOICES])
    missing = set(attached) - {asset.pk for asset in newest}
    if missing:
        newest += list(MediaAsset.objects.for_workspace(workspace).filter(pk__in=missing))
    return newest


def _templates(workspace) -> list[dict]:
    from content.services_templates import variables_of

    return [
        {
            "id": template.pk,
            "name": template.name,
            "platform": template.platform,
            "platform_name": DISPLAY_NAMES.get(template.platform, "Any platform"),
            "body": template.body,
            "variables": variables_of(template.body),
        }
        for template in Template.objects.for_workspace(workspace).order_by("name")
    ]


def _warnings(previews: list[dict]) -> list[str]:
    return [
        f"{preview['account']}: {issue['message']}"
        for preview in previews
        for issue in preview["issues"]
        if not issue["blocking"]
    ]


class ComposerMixin:
    """What the new-post and edit pages share: the page, the live checks, the template picker."""

    template_name = "publishing/post_form.html"
    workspace: object
    membership: object
    request: HttpRequest

    def _previews(self, form: ComposerForm, account_ids: list[int]) -> list[dict]:
        """The live counter's results for what was submitted (the same messages the script shows)."""
        content = form.content(account_ids)
        try:
            return preview_drafts(
                workspace=self.workspace,
                account_ids=account_ids,
                text=content["text"],
                variants=content["variants"],
                link=content["link"],
                links=content["links"],
                media_ids=content["media_ids"],
                target_media=content["target_media"],
                template_id=content["template_id"],
            )
        except ValidationError:
            return []

    def render_page(
        self,
        form: ComposerForm,
        *,
        post: Post | None = None,
        previews: list[dict] | None = None,
        warnings: list[str] | None = None,
        template_values: dict | None = None,
        status: int = 200,
    ) -> HttpResponse:
        workspace = self.workspace
        context = {
            "workspace": workspace,
            "membership": self.membership,
            "form": form,
            "post": post,
            "panels": form.account_panels(),
            "media_options": form.media_options("media"),
            "templates": _templates(workspace),
            "domains": list(ContentDomain.objects.for_workspace(workspace).order_by("name")),
            "previews": previews or [],
            "warnings": warnings or [],
            "template_values": template_values or {},
            "when_choices": WHEN_CHOICES,
            "action": (
                reverse("publishing:post_edit", kwargs={"workspace_slug": workspace.slug, "pk": post.pk})
                if post
                else reverse("publishing:post_create", kwargs={"workspace_slug": workspace.slug})
            ),
            "validate_url": reverse("publishing:post_validate", kwargs={"workspace_slug": workspace.slug}),
        }
        return render(self.request, self.template_name, context, status=status)

    def _tell_warnings(self, form: ComposerForm, account_ids: list[int]) -> None:
        """A draft, or a post sent to review, is saved whatever its warnings: say what they are."""
        if form.cleaned_data["when"] not in SENDING:
            for warning in _warnings(self._previews(form, account_ids)):
                messages.warning(self.request, warning)

    def _warn_first(self, form: ComposerForm, account_ids: list[int], post: Post | None) -> HttpResponse | None:
        """Before a post is scheduled, show its warnings once (the live check shows them as one types)."""
        data = form.cleaned_data
        if data["when"] not in SENDING or data["acknowledge_warnings"]:
            return None
        previews = self._previews(form, account_ids)
        warnings = _warnings(previews)
        if not warnings or any(issue["blocking"] for preview in previews for issue in preview["issues"]):
            return None
        values = form.data.copy()
        values["acknowledge_warnings"] = "True"
        form.data = values
        return self.render_page(form, post=post, previews=previews, warnings=warnings)


class PostCreateView(ComposerMixin, WorkspaceMixin, View):
    """GET: the composer (`?template=<id>` starts from a template, `?v_<name>=` fills its variables).

    POST: create the post, then do what the button asked: save it, submit it for review, schedule
    it, add it to the queue or post it now (sent to review instead when it needs approval first).
    """

    required_action = Action.EDIT_CONTENT

    def _form(self, *args, **kwargs) -> ComposerForm:
        accounts = list(
            SocialAccount.objects.for_workspace(self.workspace)
            .filter(status=SocialAccount.Status.ACTIVE)
            .order_by("platform", "handle")
        )
        return ComposerForm(
            *args,
            accounts=accounts,
            assets=_library(self.workspace),
            domains=list(ContentDomain.objects.for_workspace(self.workspace).order_by("name")),
            **kwargs,
        )

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        initial = {"timezone": self.workspace.timezone, "when": "at"}
        values: dict[str, str] = {}
        template_id = request.GET.get("template", "")
        if template_id:
            template = Template.objects.for_workspace(self.workspace).filter(pk=_int_or_none(template_id)).first()
            if template is None:
                messages.error(request, "That template is not in this workspace.")
            else:
                from content.services_templates import render_template, variables_of

                values = {name: request.GET.get(f"v_{name}", "") for name in variables_of(template.body)}
                text, _missing = render_template(template, values)
                initial.update(text=text, template_id=str(template.pk))
                if template.domain_id:
                    initial["domain"] = template.domain.key
        return self.render_page(self._form(initial=initial), template_values=values)

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        form = self._form(request.POST)
        if not form.is_valid():
            return self.render_page(form, status=400)
        data = form.cleaned_data
        account_ids = [int(pk) for pk in data["accounts"]]
        warned = self._warn_first(form, account_ids, None)
        if warned is not None:
            return warned
        content = form.content(account_ids)
        source = Post.Source.TEMPLATE if content["template_id"] else Post.Source.MANUAL
        try:
            # One transaction: a post whose schedule is refused is not left behind as a draft.
            with transaction.atomic():
                post = scheduling.create_post(
                    workspace=self.workspace, author=request.user, account_ids=account_ids, source=source, **content
                )
                outcome = send_on(post, when=data["when"], data=data, actor=request.user)
        except ValidationError as error:
            previews = self._previews(form, account_ids)  # before the errors take fields out of cleaned_data
            _add_errors(form, error)
            return self.render_page(form, previews=previews, status=400)
        messages.success(request, outcome)
        self._tell_warnings(form, account_ids)
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class PostEditView(ObjectFirstMixin, ComposerMixin, WorkspaceMixin, View):
    """GET: the composer filled with the post. POST: save the changes (scheduling.edit_post), then the button.

    Editing an approved or scheduled post sends it back to review, as `edit_post` says.
    """

    required_action = Action.EDIT_CONTENT
    model = Post

    def _targets(self, post: Post) -> list[PostTarget]:
        return list(
            post.targets.exclude(status=TS.CANCELLED).select_related("social_account").order_by("social_account__pk")
        )

    def _form(self, post: Post, targets: list[PostTarget], *args, **kwargs) -> ComposerForm:
        attached = list(post.media.values_list("asset_id", flat=True))
        return ComposerForm(
            *args,
            accounts=[target.social_account for target in targets],
            assets=_library(self.workspace, attached),
            domains=list(ContentDomain.objects.for_workspace(self.workspace).order_by("name")),
            fixed_accounts=True,
            **kwargs,
        )

    def _initial(self, post: Post, targets: list[PostTarget]) -> dict:
        links = Counter(target.link for target in targets)
        default_link = links.most_common(1)[0][0] if links else ""
        rows = list(post.media.order_by("position", "pk"))
        initial = {
            "text": post.text,
            "accounts": [str(target.social_account_id) for target in targets],
            "link": default_link,
            "media": [row.asset_id for row in rows if row.target_id is None],
            "tags": ", ".join(post.tags.order_by("name").values_list("name", flat=True)),
            "domain": post.domain.key if post.domain else "",
            "template_id": str(post.template_id or ""),
            "when": "at",
            "timezone": self.workspace.timezone,
        }
        timed = next((target for target in targets if target.scheduled_at), None)
        if timed is not None:
            tz = timed.schedule_timezone or self.workspace.timezone
            initial["timezone"] = tz
            initial["scheduled_at"] = timed.scheduled_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")
        for target in targets:
            account_id = target.social_account_id
            initial[f"variant_{account_id}"] = target.text
            initial[f"link_{account_id}"] = target.link if target.link != default_link else ""
            initial[f"media_{account_id}"] = [row.asset_id for row in rows if row.target_id == target.pk]
        return initial

    def _editable(self, post: Post) -> bool:
        if post.status in scheduling.EDITABLE:
            return True
        messages.error(self.request, f"A {post.get_status_display().lower()} post cannot be edited.")
        return False

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        if not self._editable(post):
            return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)
        targets = self._targets(post)
        return self.render_page(self._form(post, targets, initial=self._initial(post, targets)), post=post)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        if not self._editable(post):
            return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)
        targets = self._targets(post)
        form = self._form(post, targets, request.POST, initial=self._initial(post, targets))
        if not form.is_valid():
            return self.render_page(form, post=post, status=400)
        data = form.cleaned_data
        account_ids = [target.social_account_id for target in targets]
        warned = self._warn_first(form, account_ids, post)
        if warned is not None:
            return warned
        try:
            with transaction.atomic():
                scheduling.edit_post(post=post, actor=request.user, **form.content(account_ids))
                post.refresh_from_db()
                outcome = send_on(post, when=data["when"], data=data, actor=request.user)
        except ValidationError as error:
            previews = self._previews(form, account_ids)  # before the errors take fields out of cleaned_data
            _add_errors(form, error)
            post.refresh_from_db()
            return self.render_page(form, post=post, previews=previews, status=400)
        messages.success(request, outcome)
        self._tell_warnings(form, account_ids)
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)


class PostDuplicateView(ObjectFirstMixin, WorkspaceMixin, View):
    """POST: copy the post into a new draft (scheduling.duplicate_post) and open it in the composer."""

    required_action = Action.EDIT_CONTENT
    model = Post

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        get_scoped_or_404(Post, self.workspace, pk=pk)
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=pk)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        try:
            copy = scheduling.duplicate_post(post=post, actor=request.user)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)
        messages.success(request, f"Copied post {post.pk} into this new draft. Change what you like, then save it.")
        return redirect("publishing:post_edit", workspace_slug=self.workspace.slug, pk=copy.pk)


# --------------------------------------------------------------------------- the live check


class PostValidateView(WorkspaceMixin, View):
    """POST: check the composer's content against each chosen account's platform, as JSON.

    Takes the composer's form data (text, accounts, link, media, variant_<id>, link_<id>, media_<id>,
    template_id) or a JSON object (text, accounts, link, media, variants, links, target_media,
    template_id). Answers {"results": [preview per account], "blocking": bool, "warnings": bool};
    input that cannot be read answers 400 with {"error": "..."}.
    """

    required_action = Action.EDIT_CONTENT

    def post(self, request: HttpRequest, workspace_slug: str) -> JsonResponse:
        try:
            values = _json_values(request) if request.content_type == "application/json" else _form_values(request)
            results = preview_drafts(workspace=self.workspace, **values)
        except ValidationError as error:
            return JsonResponse({"error": " ".join(error.messages)}, status=400)
        blocking = any(issue["blocking"] for result in results for issue in result["issues"])
        warnings = any(not issue["blocking"] for result in results for issue in result["issues"])
        return JsonResponse({"results": results, "blocking": blocking, "warnings": warnings})


def _form_values(request: HttpRequest) -> dict:
    data = request.POST
    per_account: dict[str, dict[str, object]] = {"variants": {}, "links": {}, "target_media": {}}
    for key in data:
        prefix, _, account_id = key.partition("_")
        if not account_id.isdigit():
            continue
        if prefix == "variant":
            per_account["variants"][account_id] = data.get(key, "")
        elif prefix == "link":
            per_account["links"][account_id] = data.get(key, "")
        elif prefix == "media":
            per_account["target_media"][account_id] = data.getlist(key)
    return {
        "text": data.get("text", ""),
        "account_ids": data.getlist("accounts"),
        "link": data.get("link", ""),
        "media_ids": data.getlist("media"),
        "template_id": data.get("template_id") or None,
        **per_account,
    }


def _json_values(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("The request is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object with text and accounts.")
    shapes: dict[str, tuple[type, object, str]] = {
        "text": (str, "", "a string"),
        "link": (str, "", "a string"),
        "accounts": (list, [], "a list of account ids"),
        "media": (list, [], "a list of media ids"),
        "variants": (dict, {}, "an object"),
        "links": (dict, {}, "an object"),
        "target_media": (dict, {}, "an object"),
    }
    values: dict[str, object] = {}
    for key, (kind, default, described) in shapes.items():
        value = body.get(key, default)
        if value is None:
            value = default
        if not isinstance(value, kind):
            raise ValidationError(f"“{key}” must be {described}.")
        values[key] = value
    for key in ("variants", "links"):
        if not all(isinstance(value, str) for value in values[key].values()):
            raise ValidationError(f"Each of “{key}” must be a string.")
    if not all(isinstance(value, list) for value in values["target_media"].values()):
        raise ValidationError("Each of “target_media” must be a list of media ids.")
    return {
        "text": values["text"],
        "account_ids": values["accounts"],
        "link": values["link"],
        "media_ids": values["media"],
        "variants": values["variants"],
        "links": values["links"],
        "target_media": values["target_media"],
        "template_id": body.get("template_id"),
    }
