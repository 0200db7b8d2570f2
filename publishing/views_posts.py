"""Post pages: the workspace's posts, one post's delivery (status, errors, retry, cancel, history), a new post.

Thin views: they parse input, call the services of `publishing.scheduling`, and
render or redirect. Object ids are always fetched through `get_scoped_or_404`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from content.models import Post
from publishing import scheduling
from publishing.models import PostTarget, SocialAccount
from publishing.providers import DISPLAY_NAMES
from publishing.services import known_timezones
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


def _target_row(target: PostTarget, *, may_schedule: bool) -> TargetRow:
    title, help_text = "", ""
    if target.status == TS.MISSED and not target.error_kind:
        title, help_text = MISSED_HELP
    elif target.error_kind or target.last_error:
        title, help_text = ERROR_HELP.get(target.error_kind, UNKNOWN_ERROR)
    return TargetRow(
        target=target,
        platform=_platform(target.social_account.platform),
        badge=TARGET_BADGES.get(target.status, "text-bg-secondary"),
        error_title=title,
        error_help=help_text,
        may_retry=may_schedule and target.status in RETRYABLE,
    )


# --------------------------------------------------------------------------- the list


class PostListView(WorkspaceMixin, View):
    """GET: the workspace's posts, newest first, paginated; `?status=` filters. A constant number of queries."""

    template_name = "publishing/post_list.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        status = request.GET.get("status", "")
        if status not in PS.values:
            status = ""
        posts = (
            Post.objects.for_workspace(self.workspace)
            .select_related("author")
            .prefetch_related(
                Prefetch("targets", queryset=PostTarget.objects.select_related("social_account").order_by("pk"))
            )
            .order_by("-created_at", "-pk")
        )
        if status:
            posts = posts.filter(status=status)
        page = Paginator(posts, POSTS_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "page": page,
            "rows": [_post_row(post) for post in page.object_list],
            "status": status,
            "statuses": PS.choices,
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
    """GET: one post: each target's status, times, link and error, retry and cancel, and the history."""

    template_name = "publishing/post_detail.html"
    required_action = Action.VIEW
    model = Post

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        may_schedule = can(self.membership.role, Action.SCHEDULE)
        targets = post.targets.select_related("social_account").order_by("pk")
        events = post.events.select_related("actor", "target__social_account").order_by("created_at", "pk")
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "post": post,
            "badge": POST_BADGES.get(post.status, "text-bg-secondary"),
            "targets": [_target_row(target, may_schedule=may_schedule) for target in targets],
            "events": list(events),
            "may_cancel": may_schedule and post.status not in (PS.PUBLISHED, PS.CANCELLED),
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


# --------------------------------------------------------------------------- a new post


class PostForm(forms.Form):
    """Text, accounts and when. Times are local wall-clock times in the chosen zone."""

    WHEN_CHOICES = [
        ("at", "Schedule at"),
        ("now", "Post now"),
        ("queue", "Add to queue"),
        ("draft", "Save as a draft"),
    ]

    text = forms.CharField(widget=forms.Textarea(attrs={"class": "form-control", "rows": 5}))
    accounts = forms.MultipleChoiceField(
        label="Post to", widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )
    link = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=2000,
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://"}),
    )
    when = forms.ChoiceField(
        choices=WHEN_CHOICES, initial="at", widget=forms.RadioSelect(attrs={"class": "form-check-input"})
    )
    scheduled_at = forms.CharField(
        label="Date and time",
        required=False,
        widget=forms.DateTimeInput(attrs={"class": "form-control", "type": "datetime-local"}),
    )
    timezone = forms.ChoiceField(label="Time zone", widget=forms.Select(attrs={"class": "form-select"}))

    def __init__(self, *args, accounts: list[SocialAccount], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].choices = [(str(account.pk), str(account)) for account in accounts]
        self.fields["timezone"].choices = [(name, name.replace("_", " ")) for name in sorted(known_timezones())]

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

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("when") == "at" and not cleaned.get("scheduled_at") and "scheduled_at" not in self.errors:
            self.add_error("scheduled_at", "Choose a date and time, or post now or add it to the queue.")
        return cleaned


# Service error codes (publishing.scheduling) → the form field they are about.
ERROR_FIELDS: dict[str, str] = {
    "accounts": "accounts",
    "variants": "accounts",
    "link": "link",
    "content": "text",
    "past": "scheduled_at",
    "nonexistent_time": "scheduled_at",
    "when": "scheduled_at",
    "timezone": "timezone",
}


class PostCreateView(WorkspaceMixin, View):
    """GET: the new-post form. POST: create the post, then schedule it, or send it to review when it needs one."""

    template_name = "publishing/post_form.html"
    required_action = Action.EDIT_CONTENT

    def _accounts(self) -> list[SocialAccount]:
        return list(
            SocialAccount.objects.for_workspace(self.workspace)
            .filter(status=SocialAccount.Status.ACTIVE)
            .order_by("platform", "handle")
        )

    def render_page(self, form: PostForm, *, status: int = 200) -> HttpResponse:
        context = {"workspace": self.workspace, "membership": self.membership, "form": form}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        form = PostForm(accounts=self._accounts(), initial={"timezone": self.workspace.timezone, "when": "at"})
        return self.render_page(form)

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        form = PostForm(request.POST, accounts=self._accounts())
        if not form.is_valid():
            return self.render_page(form, status=400)
        data = form.cleaned_data
        try:
            # One transaction: a post whose schedule is refused is not left behind as a draft.
            with transaction.atomic():
                post = scheduling.create_post(
                    workspace=self.workspace,
                    author=request.user,
                    text=data["text"],
                    account_ids=data["accounts"],
                    link=data["link"],
                )
                outcome = self._send_on(post, data)
        except ValidationError as error:
            for message in error.messages:
                form.add_error(ERROR_FIELDS.get(getattr(error, "code", None) or ""), message)
            return self.render_page(form, status=400)
        messages.success(request, outcome)
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)

    def _send_on(self, post: Post, data: dict) -> str:
        """Schedule the new post as asked; when it needs review first, submit it instead. Returns what happened."""
        when = data["when"]
        if when == "draft":
            return "Saved as a draft."
        actor = self.request.user
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
        scheduling.submit_for_review(post=post, actor=actor)
        sent = "Sent for review: this workspace approves posts before they go out."
        if when == "at":
            return f"{sent} Once approved it goes out at the time you chose; if it is still waiting then, it waits."
        return f"{sent} Schedule it once it is approved."
