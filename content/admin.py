"""The staff approval queue in Django Admin: "Posts awaiting review" (content.PendingReviewPost, a proxy of Post).

- The list is oldest first (`submitted_at`, then id: the `content_post_review_queue`
  index) and costs a constant number of queries per page, however long the queue:
  rows with their workspace and author in one query, the targets and their accounts
  in one more, the earliest proposed time as a subquery, a count that stops at
  `COUNT_CAP`, and sidebar filters that never list every workspace or author.
- Each row opens a review page: how the post will look on each platform (the
  provider's own `validate()`, through `publishing.variants.preview_for`), the AI
  prompt and context, the score, and the post's history.
- Every decision goes through the services of `publishing.scheduling` (approve,
  approve and schedule, reject, request changes), one post at a time, and is
  reported with counts and the reasons for anything skipped.
- Only staff holding `content.approve_post` decide; staff with the view
  permission see the queue read-only.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from accounts.models import User, Workspace
from content.models import PendingReviewPost, Post, PostMedia
from publishing import scheduling
from publishing.models import PostEvent, PostTarget
from publishing.providers import DISPLAY_NAMES, PLATFORM_CHOICES
from publishing.services import known_timezones
from publishing.variants import assets_of_target, preview_for, variant_for_target

PS = Post.Status
TS = PostTarget.Status

# Counting the whole queue on every page load is what makes admin lists slow: stop counting here.
COUNT_CAP = 10_000
# The most posts one bulk action decides; each goes through its service (a transaction, an event, a notice).
BULK_LIMIT = 500
# The most workspaces or authors the sidebar filters offer (those with the most posts waiting).
FILTER_OPTIONS = 25
APPROVE_PERMISSION = scheduling.APPROVE_PERMISSION
# The sidebar's lists of busiest workspaces and authors are kept this long (see `_cached_options`).
OPTIONS_CACHE_SECONDS = 60
CACHE_PREFIX = "review-queue:filters"

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- counting and filtering


class CappedCountPaginator(Paginator):
    """A paginator that counts at most COUNT_CAP rows (and says so with `is_capped`).

    PostgreSQL counts by reading every matching row; with 100,000 posts waiting that
    costs more than the rest of the page. Counting `LIMIT COUNT_CAP + 1` ids keeps the
    cost bounded; pages beyond the cap are reached by filtering, not by paging.
    """

    is_capped = False

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by().values("pk")[: COUNT_CAP + 1].count()
        self.is_capped = counted > COUNT_CAP
        return min(counted, COUNT_CAP)


def _cached_options(key: str, build: Callable[[], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The sidebar options under `key`, built at most once a minute.

    Grouping 100,000 waiting posts by workspace or author costs PostgreSQL 150-250 ms; the list of the busiest
    is a way in, not a figure anyone checks, so a minute-old one will do. Without a cache, build it every time.
    """
    try:
        options = cache.get(key)
    except Exception:  # a cache outage must not take the queue down with it
        logger.warning("The review queue's filter cache is unavailable", exc_info=True)
        return build()
    if options is None:
        options = build()
        try:
            cache.set(key, options, OPTIONS_CACHE_SECONDS)
        except Exception:
            logger.warning("The review queue's filter cache is unavailable", exc_info=True)
    return options


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class _BusiestFilter(admin.SimpleListFilter):
    """Filter by the owners of the most posts waiting (at most FILTER_OPTIONS, cached), plus the chosen one.

    Subclasses name the `field` filtered on and say how to list the busiest
    (`busiest`, under `cache_key`) and how to name one chosen outside them (`name_of`).
    """

    field: str

    def cache_key(self, request: HttpRequest) -> str:
        raise NotImplementedError

    def busiest(self, request: HttpRequest) -> list[tuple[str, str]]:
        raise NotImplementedError

    def name_of(self, pk: int) -> str | None:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        options = list(_cached_options(self.cache_key(request), lambda: self.busiest(request)))
        chosen = _int_or_none(self.value())
        if chosen and str(chosen) not in {key for key, _ in options}:
            name = self.name_of(chosen)
            if name:
                options.append((str(chosen), name))
        return options

    def has_output(self) -> bool:
        # Admin skips a filter with no options; a chosen value must still filter (or match nothing).
        return bool(self.lookup_choices) or self.value() is not None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        if self.value() is None:
            return queryset
        chosen = _int_or_none(self.value())
        return queryset.filter(**{self.field: chosen}) if chosen else queryset.none()


class WorkspaceFilter(_BusiestFilter):
    """The workspaces with the most posts waiting, never the list of every workspace.

    Any other workspace: search for its slug (the search box matches slugs exactly).
    """

    title = "workspace (most waiting)"
    parameter_name = "workspace"
    field = "workspace_id"

    def cache_key(self, request: HttpRequest) -> str:
        return f"{CACHE_PREFIX}:workspaces"

    def busiest(self, request: HttpRequest) -> list[tuple[str, str]]:
        busiest = (
            Post.objects.filter(status=PS.PENDING_REVIEW)
            .values("workspace_id", "workspace__name", "workspace__slug")
            .annotate(waiting=Count("id"))
            .order_by("-waiting", "workspace_id")[:FILTER_OPTIONS]
        )
        return [
            (str(row["workspace_id"]), f"{row['workspace__name']} ({row['workspace__slug']}): {row['waiting']}")
            for row in busiest
        ]

    def name_of(self, pk: int) -> str | None:
        workspace = Workspace.objects.filter(pk=pk).values("name", "slug").first()
        return f"{workspace['name']} ({workspace['slug']})" if workspace else None


class AuthorFilter(_BusiestFilter):
    """The authors with the most posts waiting (in the chosen workspace, if one is)."""

    title = "author (most waiting)"
    parameter_name = "author"
    field = "author_id"

    def _workspace(self, request: HttpRequest) -> int | None:
        return _int_or_none(request.GET.get(WorkspaceFilter.parameter_name))

    def cache_key(self, request: HttpRequest) -> str:
        return f"{CACHE_PREFIX}:authors:{self._workspace(request) or 'all'}"

    def busiest(self, request: HttpRequest) -> list[tuple[str, str]]:
        pending = Post.objects.filter(status=PS.PENDING_REVIEW, author__isnull=False)
        workspace = self._workspace(request)
        if workspace:
            pending = pending.filter(workspace_id=workspace)
        busiest = (
            pending.values("author_id", "author__name", "author__email")
            .annotate(waiting=Count("id"))
            .order_by("-waiting", "author_id")[:FILTER_OPTIONS]
        )
        return [
            (str(row["author_id"]), f"{row['author__name'] or row['author__email']}: {row['waiting']}")
            for row in busiest
        ]

    def name_of(self, pk: int) -> str | None:
        author = User.objects.filter(pk=pk).values("name", "email").first()
        return (author["name"] or author["email"]) if author else None


class PlatformFilter(admin.SimpleListFilter):
    """Posts going to at least one account on the platform."""

    title = "platform"
    parameter_name = "platform"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(PLATFORM_CHOICES)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        value = self.value()
        if value is None:
            return queryset
        if value not in DISPLAY_NAMES:
            return queryset.none()
        going = PostTarget.objects.filter(post_id=OuterRef("pk"), social_account__platform=value).exclude(
            status=TS.CANCELLED
        )
        return queryset.filter(Exists(going))


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(Post.Source.AI, "AI"), (Post.Source.TEMPLATE, "Template"), (Post.Source.MANUAL, "Manual")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(source=value) if value in Post.Source.values else queryset.none()


class ScheduledWindowFilter(admin.SimpleListFilter):
    """When the post would go out: its earliest proposed time (kept while it waits), against now."""

    title = "proposed time"
    parameter_name = "when"
    WINDOWS = (
        ("overdue", "Overdue (time passed)"),
        ("24h", "In the next 24 hours"),
        ("7d", "In the next 7 days"),
        ("later", "Later"),
        ("none", "No time proposed"),
    )

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> tuple[tuple[str, str], ...]:
        return self.WINDOWS

    def queryset(self, request: HttpRequest, queryset: QuerySet[Post]) -> QuerySet[Post]:
        value = self.value()
        if value is None:
            return queryset
        now = datetime.now(tz=UTC)
        day, week = now + timedelta(hours=24), now + timedelta(days=7)

        def due(**when: datetime) -> Exists:
            # EXISTS, not a MIN() per row: PostgreSQL runs it as one semi-join over the targets in the window.
            live = PostTarget.objects.filter(post_id=OuterRef("pk")).exclude(status=TS.CANCELLED)
            return Exists(live.filter(**when))

        # "The earliest time is in [a, b)" = some time is in [a, b) and none is before a.
        windows = {
            "overdue": lambda: due(scheduled_at__lt=now),
            "24h": lambda: due(scheduled_at__gte=now, scheduled_at__lt=day) & ~due(scheduled_at__lt=now),
            "7d": lambda: due(scheduled_at__gte=now, scheduled_at__lt=week) & ~due(scheduled_at__lt=now),
            "later": lambda: due(scheduled_at__gte=week) & ~due(scheduled_at__lt=week),
            "none": lambda: ~due(scheduled_at__isnull=False),
        }
        return queryset.filter(windows[value]()) if value in windows else queryset.none()


# --------------------------------------------------------------------------- decisions


class ApproveForm(forms.Form):
    note = forms.CharField(
        required=False, max_length=1000, label="Note (optional)", widget=forms.TextInput(attrs={"size": 50})
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        label="Why is it rejected? (the author sees this)",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        error_messages={"required": "Say why the post is rejected, so the author can fix it."},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Say why the post is rejected, so the author can fix it.")
        return reason


class ChangesForm(forms.Form):
    comment = forms.CharField(
        max_length=2000,
        label="What should change? (the author sees this)",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        error_messages={"required": "Say what should change, so the author knows what to do."},
    )

    def clean_comment(self) -> str:
        comment = self.cleaned_data["comment"].strip()
        if not comment:
            raise ValidationError("Say what should change, so the author knows what to do.")
        return comment


def _timezone_choices() -> list[tuple[str, str]]:
    return [("", "The workspace's own time zone"), *((name, name) for name in sorted(known_timezones()))]


class ScheduleForm(forms.Form):
    """Approve and schedule: the next free queue slot of each account, or a local time in a chosen zone."""

    QUEUE, TIME = "queue", "time"
    mode = forms.ChoiceField(
        choices=[(QUEUE, "Next free queue slot of each account"), (TIME, "At this time:")],
        initial=QUEUE,
        widget=forms.RadioSelect,
        label="When",
        error_messages={
            "required": "Choose the next queue slot or a time.",
            "invalid_choice": "Choose the next queue slot or a time.",
        },
    )
    when = forms.CharField(
        required=False,
        label="Local date and time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    timezone = forms.ChoiceField(
        required=False,
        label="Time zone",
        choices=_timezone_choices,
        error_messages={"invalid_choice": "Choose a time zone from the list, e.g. Europe/Berlin."},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["when_local"] = None
        if data.get("mode") == self.TIME:
            raw = (data.get("when") or "").strip()
            if not raw:
                self.add_error("when", "Choose the date and time it should go out.")
                return data
            for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
                try:
                    data["when_local"] = datetime.strptime(raw, pattern)  # noqa: DTZ007 - a wall-clock time in `timezone`
                    break
                except ValueError:
                    continue
            else:
                self.add_error("when", "Write the time as YYYY-MM-DD HH:MM, e.g. 2026-05-04 09:30.")
        return data


@dataclass
class Outcome:
    """What a decision did to a set of posts: how many it decided, and why it skipped the others."""

    verb: str
    done: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def message(self) -> str:
        text = f"{self.done} {self.verb}"
        if self.skipped:
            reasons = "; ".join(
                reason if count == 1 and len(self.skipped) == 1 else f"{count} {reason}"
                for reason, count in self.skipped.most_common()
            )
            text += f", {sum(self.skipped.values())} skipped: {reasons}"
        return text + "."

    @property
    def level(self) -> int:
        if not self.skipped:
            return messages.SUCCESS
        return messages.WARNING if self.done else messages.ERROR


def _skip_reason(post: Post, error: ValidationError | PermissionDenied) -> str:
    """A short reason people can group: "already approved" rather than the service's full sentence."""
    if isinstance(error, ValidationError) and getattr(error, "code", None) == "status":
        post.refresh_from_db(fields=["status"])
        return f"already {post.get_status_display().lower()}"
    if isinstance(error, ValidationError):
        return " ".join(error.messages).rstrip(".")
    return str(error).rstrip(".") or "not allowed"


def decide(posts: Iterable[Post], verb: str, service: Callable[[Post], Any]) -> Outcome:
    """Run `service` on each post (each in its own transaction: one refusal never undoes the others)."""
    outcome = Outcome(verb=verb)
    for post in posts:
        try:
            service(post)
        except (ValidationError, PermissionDenied) as error:
            outcome.skipped[_skip_reason(post, error)] += 1
        else:
            outcome.done += 1
    return outcome


# --------------------------------------------------------------------------- the queue


@admin.register(PendingReviewPost)
class ReviewQueueAdmin(admin.ModelAdmin):
    """Posts awaiting review, oldest first; each opens a review page. Decisions go through the services only."""

    list_display = ("summary", "workspace_name", "author_name", "source_label", "platforms", "proposed", "waited")
    list_display_links = ("summary",)
    list_filter = (WorkspaceFilter, PlatformFilter, SourceFilter, ScheduledWindowFilter, AuthorFilter)
    # Exact slug and e-mail matches use their unique indexes; only the text is searched for words.
    search_fields = ("text", "=workspace__slug", "=author__email")
    search_help_text = "Words in the post's text, a workspace's exact slug or an author's exact e-mail address."
    list_select_related = ("workspace", "author")
    list_per_page = 50
    list_max_show_all = 200
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("submitted_at", "id")
    actions = ("approve_selected", "approve_and_schedule_selected", "reject_selected", "request_changes_selected")
    review_template = "admin/content/pendingreviewpost/review.html"
    confirm_template = "admin/content/pendingreviewpost/confirm_decision.html"

    class Media:
        css = {"all": ("admin/review.css",)}

    # ----------------------------------------------------------------------- permissions

    def has_approve_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.has_perm(APPROVE_PERMISSION))

    def has_view_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return super().has_view_permission(request, obj) or self.has_approve_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posts are written on the site

    def has_change_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False  # status changes only through the decisions below; the text is the author's

    def has_delete_permission(self, request: HttpRequest, obj: Post | None = None) -> bool:
        return False

    # ----------------------------------------------------------------------- the list

    def get_queryset(self, request: HttpRequest) -> QuerySet[Post]:
        targets = (
            PostTarget.objects.exclude(status=TS.CANCELLED)
            .select_related("social_account")
            .only("id", "post_id", "status", "scheduled_at", "social_account__platform", "social_account__handle")
            .order_by("pk")
        )
        return (
            super()
            .get_queryset(request)
            .filter(status=PS.PENDING_REVIEW)
            .defer("generation", "score_reasons")
            .prefetch_related(Prefetch("targets", queryset=targets, to_attr="live_targets"))
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        title = "Posts awaiting review, oldest first"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Post")
    def summary(self, post: Post) -> str:
        text = " ".join((post.text or "").split())
        return (text[:90] + "…") if len(text) > 90 else (text or "(empty post)")

    @admin.display(description="Workspace", ordering="workspace__name")
    def workspace_name(self, post: Post) -> str:
        return format_html('{}<br><span class="review-muted">{}</span>', post.workspace.name, post.workspace.slug)

    @admin.display(description="Author")
    def author_name(self, post: Post) -> str:
        if post.author is None:
            return "-"
        return post.author.name or post.author.email

    @admin.display(description="Source", ordering="source")
    def source_label(self, post: Post) -> str:
        label = {Post.Source.AI: "AI", Post.Source.TEMPLATE: "Template"}.get(post.source, "Manual")
        return format_html('<span class="review-source review-source-{}">{}</span>', post.source, label)

    @admin.display(description="Platforms")
    def platforms(self, post: Post) -> str:
        accounts = [target.social_account for target in getattr(post, "live_targets", [])]
        if not accounts:
            return "-"
        return format_html_join(
            ", ",
            '<span title="{}">{}</span>',
            ((account.handle, DISPLAY_NAMES.get(account.platform, account.platform)) for account in accounts),
        )

    @admin.display(description="Proposed time")
    def proposed(self, post: Post) -> str:
        # From the prefetched targets, not a MIN() subquery: PostgreSQL would run that for every row an
        # OFFSET skips too (measured: 30-46 ms on page 50 of 100,000 posts, against 2 ms without it).
        times = [target.scheduled_at for target in getattr(post, "live_targets", []) if target.scheduled_at]
        when = min(times, default=None)
        if when is None:
            return "-"
        stamp = f"{when:%Y-%m-%d %H:%M} UTC"
        if when <= datetime.now(tz=UTC):
            return format_html(
                '<span class="review-overdue" title="Its time passed while it waited">{} (overdue)</span>', stamp
            )
        return stamp

    @admin.display(description="Waiting", ordering="submitted_at")
    def waited(self, post: Post) -> str:
        since = post.submitted_at or post.updated_at
        return timesince(since, depth=2) if since else "-"

    # ----------------------------------------------------------------------- the bulk actions

    def _selected(self, request: HttpRequest, queryset: QuerySet[Post]) -> list[Post] | None:
        """The chosen posts, oldest first, as plain posts for the services; None (and a message) when too many.

        The ticked ids are read from the form rather than from `queryset` (which holds only posts still
        waiting): a post someone else decided meanwhile is then reported as skipped, not silently dropped.
        """
        if request.POST.get("select_across") == "1":
            ids = list(queryset.order_by("submitted_at", "id").values_list("pk", flat=True)[: BULK_LIMIT + 1])
        else:
            ticked = (_int_or_none(value) for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))
            ids = list(dict.fromkeys(pk for pk in ticked if pk is not None))
        if len(ids) > BULK_LIMIT:
            self.message_user(
                request,
                f"Select at most {BULK_LIMIT} posts at a time: each one is decided, recorded and notified on its own.",
                messages.ERROR,
            )
            return None
        return list(Post.objects.filter(pk__in=ids).select_related("workspace").order_by("submitted_at", "id"))

    def _report(self, request: HttpRequest, outcome: Outcome) -> None:
        self.message_user(request, outcome.message(), outcome.level)

    @admin.action(description="Approve selected posts", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        posts = self._selected(request, queryset)
        if posts is not None:
            self._report(request, approve(posts, actor=request.user))

    @admin.action(description="Approve and schedule selected posts…", permissions=["approve"])
    def approve_and_schedule_selected(self, request: HttpRequest, queryset: QuerySet[Post]) -> HttpResponse | None:
        return self._confirm(request, queryset, kind="schedule")

    @admin.action(description="Reject selected posts…", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Post]) -> HttpResponse | None:
        return self._confirm(request, queryset, kind="reject")

    @admin.action(description="Request changes to selected posts…", permissions=["approve"])
    def request_changes_selected(self, request: HttpRequest, queryset: QuerySet[Post]) -> HttpResponse | None:
        return self._confirm(request, queryset, kind="changes")

    def _confirm(self, request: HttpRequest, queryset: QuerySet[Post], *, kind: str) -> HttpResponse | None:
        """Ask for the reason, comment or time; on the confirmed POST, decide every selected post."""
        posts = self._selected(request, queryset)
        if posts is None:
            return None
        form_class = DECISION_FORMS[kind]
        form = form_class(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            self._report(request, DECISIONS[kind](posts, actor=request.user, data=form.cleaned_data))
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": CONFIRM_TITLES[kind].format(count=len(posts), s="" if len(posts) == 1 else "s"),
            "opts": self.model._meta,
            "kind": kind,
            "form": form,
            "posts": posts,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, self.confirm_template, context)

    # ----------------------------------------------------------------------- one post: the review page

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="{}_{}_decide".format(*info),
            ),
        ]
        return own + super().get_urls()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The review page (GET); a post that was decided meanwhile still shows, without the decision forms."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        post = self._post(object_id)
        if request.method != "GET":
            return HttpResponseRedirect(request.path)
        return self.render_review(request, post, forms_with_errors={})

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: approve, approve and schedule, reject or request changes to one post."""
        if not self.has_approve_permission(request):
            raise PermissionDenied
        post = self._post(object_id)
        review_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[quote(post.pk)])
        if request.method != "POST":
            return HttpResponseRedirect(review_url)
        kind = request.POST.get("decision", "")
        if kind not in DECISIONS:
            self.message_user(request, "Choose approve, schedule, reject or request changes.", messages.ERROR)
            return HttpResponseRedirect(review_url)
        form = DECISION_FORMS[kind](request.POST)
        if not form.is_valid():
            return self.render_review(request, post, forms_with_errors={kind: form}, status=400)
        outcome = DECISIONS[kind]([post], actor=request.user, data=form.cleaned_data)
        if outcome.skipped:
            reason = next(iter(outcome.skipped))
            post.refresh_from_db()
            return self.render_review(
                request, post, forms_with_errors={kind: form}, error=f"Not {outcome.verb}: {reason}.", status=400
            )
        self.message_user(request, f"“{post}”: {DONE_MESSAGES[kind]}", messages.SUCCESS)
        return HttpResponseRedirect(self._changelist_url(request))

    def _post(self, object_id: str) -> Post:
        pk = _int_or_none(unquote(object_id))
        post = Post.objects.select_related("workspace", "author").filter(pk=pk).first() if pk else None
        if post is None:
            raise Http404("There is no post with this id.")
        return post

    def _changelist_url(self, request: HttpRequest) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        filters = request.POST.get("_changelist_filters") or request.GET.get("_changelist_filters")
        return f"{url}?{filters}" if filters else url

    def render_review(
        self,
        request: HttpRequest,
        post: Post,
        *,
        forms_with_errors: dict[str, forms.Form],
        error: str = "",
        status: int = 200,
    ) -> TemplateResponse:
        may_decide = self.has_approve_permission(request) and post.status == PS.PENDING_REVIEW
        decision_forms = {
            kind: forms_with_errors.get(kind) or DECISION_FORMS[kind](initial=_initial(kind, post))
            for kind in DECISIONS
        }
        filters = request.POST.get("_changelist_filters") or request.GET.get("_changelist_filters", "")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review: {post}",
            "subtitle": None,
            "opts": self.opts,
            "post": post,
            "previews": review_previews(post),
            "generation": generation_rows(post),
            "score_reasons": [str(reason) for reason in post.score_reasons or []],
            "events": history(post),
            "may_decide": may_decide,
            "decision_error": error,
            "may_approve_at_all": self.has_approve_permission(request),
            "forms": decision_forms,
            "decide_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_decide", args=[quote(post.pk)]),
            "changelist_url": self._changelist_url(request),
            "changelist_filters": filters,
            "preserved_query": urlencode({"_changelist_filters": filters}) if filters else "",
            "waited": timesince(post.submitted_at, depth=2) if post.submitted_at else "",
            "media": self.media,
        }
        return TemplateResponse(request, self.review_template, context, status=status)


def _initial(kind: str, post: Post) -> dict[str, Any]:
    if kind == "schedule":
        return {"mode": ScheduleForm.QUEUE, "timezone": post.workspace.timezone}
    return {}


# --------------------------------------------------------------------------- decisions, through the services


def approve(posts: Iterable[Post], *, actor: User, data: dict[str, Any] | None = None) -> Outcome:
    note = (data or {}).get("note", "")
    return decide(posts, "approved", lambda post: scheduling.approve_post(post=post, actor=actor, reason=note))


def approve_and_schedule(posts: Iterable[Post], *, actor: User, data: dict[str, Any]) -> Outcome:
    def run(post: Post) -> Post:
        return scheduling.approve_and_schedule(
            post=post, actor=actor, when_local=data.get("when_local"), tz=data.get("timezone") or ""
        )

    return decide(posts, "approved and scheduled", run)


def reject(posts: Iterable[Post], *, actor: User, data: dict[str, Any]) -> Outcome:
    reason = data["reason"]
    return decide(posts, "rejected", lambda post: scheduling.reject_post(post=post, actor=actor, reason=reason))


def request_changes(posts: Iterable[Post], *, actor: User, data: dict[str, Any]) -> Outcome:
    comment = data["comment"]
    return decide(
        posts, "sent back for changes", lambda post: scheduling.request_changes(post=post, actor=actor, comment=comment)
    )


DECISIONS: dict[str, Callable[..., Outcome]] = {
    "approve": approve,
    "schedule": approve_and_schedule,
    "reject": reject,
    "changes": request_changes,
}
DECISION_FORMS: dict[str, type[forms.Form]] = {
    "approve": ApproveForm,
    "schedule": ScheduleForm,
    "reject": RejectForm,
    "changes": ChangesForm,
}
CONFIRM_TITLES = {
    "schedule": "Approve and schedule {count} post{s}",
    "reject": "Reject {count} post{s}",
    "changes": "Request changes to {count} post{s}",
}
DONE_MESSAGES = {
    "approve": "approved.",
    "schedule": "approved and scheduled.",
    "reject": "rejected; the author sees the reason.",
    "changes": "sent back to the author as a draft, with your comment.",
}


# --------------------------------------------------------------------------- what the review page shows


def review_previews(post: Post) -> list[dict[str, Any]]:
    """Per live target: how the platform will show the post (text within its limit, the cut, the count, issues)."""
    targets = list(post.targets.exclude(status=TS.CANCELLED).select_related("social_account", "post").order_by("pk"))
    media = list(PostMedia.objects.filter(post=post).select_related("asset").order_by("position", "pk"))
    previews = []
    for target in targets:
        variant = variant_for_target(target, media=media)
        assets = assets_of_target(target, media)
        preview = preview_for(target.social_account, variant.text, variant.link, assets)
        previews.append(
            {
                "target": target,
                "account": target.social_account,
                "preview": preview,
                "link": variant.link,
                "assets": assets,
                "own_text": bool(target.text),
                "over_limit": bool(preview["max_length"]) and preview["length"] > preview["max_length"],
            }
        )
    return previews


GENERATION_LABELS = (
    ("prompt", "Prompt"),
    ("model", "Model"),
    ("domain", "Domain"),
    ("documents", "Documents used"),
    ("template", "Template"),
    ("controls", "Controls"),
    ("temperature", "Creativity (temperature)"),
    ("system_prompt", "Context given to the model"),
    ("usage", "Tokens"),
    ("content_plan", "Content plan"),
    ("planned_local", "Planned for"),
    ("created_at", "Generated at"),
)


def _readable(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, list) and all(isinstance(item, dict) and "name" in item for item in value):
        return ", ".join(str(item["name"]) for item in value)
    if isinstance(value, dict) and set(value) <= {"id", "name"} and "name" in value:
        return str(value["name"])
    if isinstance(value, dict):
        # Sorted: PostgreSQL's jsonb does not keep the order keys were written in.
        return "; ".join(f"{key}: {_readable(item)}" for key, item in sorted(value.items()))
    if isinstance(value, list):
        return ", ".join(_readable(item) for item in value)
    return str(value)


def generation_rows(post: Post) -> list[tuple[str, str]]:
    """The AI generation record as (label, text) rows: the known keys first, in order, then any others."""
    record = post.generation if isinstance(post.generation, dict) else {}
    if not record:
        return []
    known = dict(GENERATION_LABELS)
    rows = [(label, _readable(record[key])) for key, label in GENERATION_LABELS if key in record]
    rows += [
        (key.replace("_", " ").capitalize(), json.dumps(value, ensure_ascii=False, default=str)[:2000])
        for key, value in record.items()
        if key not in known and key != "source"
    ]
    return rows


def history(post: Post) -> list[dict[str, Any]]:
    """The post's events, oldest first, each with its changes as (field, before, after) rows."""
    events = (
        PostEvent.objects.filter(post=post)
        .select_related("actor", "target__social_account")
        .order_by("created_at", "pk")
    )
    rows = []
    for event in events:
        changes = event.changes if isinstance(event.changes, dict) else {}
        rows.append(
            {
                "event": event,
                "who": (event.actor.name or event.actor.email) if event.actor else (event.actor_label or "LetsGrow"),
                "changes": [
                    (
                        name,
                        _readable(change.get("before")) if isinstance(change, dict) else "",
                        _readable(change.get("after")) if isinstance(change, dict) else _readable(change),
                    )
                    for name, change in changes.items()
                ],
            }
        )
    return rows
