"""Review on the site: a workspace's approvers approve, reject or send back its posts (issue 7).

Thin views over the review services of `publishing.scheduling` (the same ones staff use in admin).
The queue is readable by every member; the decisions need `Action.APPROVE` (owners, admins, approvers).
A decision redirects back to the queue when it came from there (a `next` on this site only), else to the post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from content.models import Post
from publishing import scheduling
from publishing.models import PostTarget
from publishing.views_posts import ObjectFirstMixin, Platform, _platform

PS = Post.Status
TS = PostTarget.Status
REVIEWS_PER_PAGE = 25
EXCERPT_CHARS = 280


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class ReviewRow:
    post: Post
    platforms: list[Platform]
    accounts: list[str]  # "handle (Platform)" of each account it goes to
    proposed_at: datetime | None  # the earliest time a target keeps (proposed by the author)
    waiting_since: datetime  # submitted, or created when it never was stamped


def _review_row(post: Post) -> ReviewRow:
    targets = list(post.targets.all())
    platforms = [_platform(slug) for slug in dict.fromkeys(t.social_account.platform for t in targets)]
    return ReviewRow(
        post=post,
        platforms=platforms,
        accounts=[f"{t.social_account.handle} ({_platform(t.social_account.platform).name})" for t in targets],
        proposed_at=min((t.scheduled_at for t in targets if t.scheduled_at), default=None),
        waiting_since=post.submitted_at or post.created_at,
    )


class ReviewQueueView(WorkspaceMixin, View):
    """GET: the workspace's posts waiting for review, oldest first, paginated; a constant number of queries."""

    template_name = "publishing/review_queue.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        live_targets = PostTarget.objects.exclude(status=TS.CANCELLED).select_related("social_account").order_by("pk")
        posts = (
            Post.objects.for_workspace(self.workspace)
            .filter(status=PS.PENDING_REVIEW)
            .select_related("author")
            .prefetch_related(Prefetch("targets", queryset=live_targets))
            .order_by(F("submitted_at").asc(nulls_last=True), "pk")
        )
        page = Paginator(posts, REVIEWS_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "page": page,
            "rows": [_review_row(post) for post in page.object_list],
            "waiting": page.paginator.count,
            "may_approve": can(self.membership.role, Action.APPROVE),
            "excerpt_chars": EXCERPT_CHARS,
            "here": request.get_full_path(),
        }
        return render(request, self.template_name, context)


# --------------------------------------------------------------------------- the decisions


def _approved_message(post: Post, workspace_tz: str) -> str:
    if post.status != PS.SCHEDULED:
        return "Approved. It is ready to be scheduled."
    scheduled = [t for t in post.targets.all() if t.status == TS.SCHEDULED and t.scheduled_at]
    first = min(scheduled, key=lambda t: t.scheduled_at)
    tz = first.schedule_timezone or workspace_tz
    return f"Approved. It goes out at {scheduling.describe(first.scheduled_at.astimezone(ZoneInfo(tz)))} ({tz})."


class _DecisionView(ObjectFirstMixin, WorkspaceMixin, View):
    """POST: one review decision on a post waiting for review. GET only leads to the post."""

    required_action = Action.VIEW
    write_action = Action.APPROVE
    model = Post
    # The form field the decision's text comes from; the shared review form sends `note`.
    field = "note"

    def decide(self, post: Post, text: str) -> str:
        """Call the one service; return the success message."""
        raise NotImplementedError

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        get_scoped_or_404(Post, self.workspace, pk=pk)
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=pk)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        post_page = reverse("publishing:post_detail", kwargs={"workspace_slug": self.workspace.slug, "pk": post.pk})
        if post.status != PS.PENDING_REVIEW:
            messages.error(request, _no_longer_waiting(post))
            return redirect(self._back(request) or post_page)
        text = request.POST.get(self.field) or request.POST.get("note") or ""
        try:
            outcome = self.decide(post, text)
        except PermissionDenied as error:
            messages.error(request, str(error) or "Your role does not allow reviewing posts.")
            return redirect(post_page)
        except ValidationError as error:
            post.refresh_from_db(fields=["status"])
            if post.status != PS.PENDING_REVIEW:
                messages.error(request, _no_longer_waiting(post))
            else:
                for message in error.messages:
                    messages.error(request, message)
            # The post page has the review form, so the reviewer can add what was missing there.
            return redirect(post_page)
        messages.success(request, outcome)
        return redirect(self._back(request) or post_page)

    def _back(self, request: HttpRequest) -> str | None:
        """The `next` page, when it is a page of this site; else None (never an open redirect)."""
        target = request.POST.get("next") or ""
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return None


def _no_longer_waiting(post: Post) -> str:
    return f"This post is no longer waiting for review (it is {post.get_status_display().lower()})."


class PostApproveView(_DecisionView):
    """POST: approve (scheduling.approve_post), with an optional note; a kept time schedules it again."""

    field = "note"

    def decide(self, post: Post, text: str) -> str:
        scheduling.approve_post(post=post, actor=self.request.user, reason=text)
        return _approved_message(post, self.workspace.timezone)


class PostRejectView(_DecisionView):
    """POST: reject (scheduling.reject_post); the reason is required, the author sees it."""

    field = "reason"

    def decide(self, post: Post, text: str) -> str:
        scheduling.reject_post(post=post, actor=self.request.user, reason=text)
        return "Rejected: the author sees your reason."


class PostRequestChangesView(_DecisionView):
    """POST: send back to the author as a draft (scheduling.request_changes); the comment is required."""

    field = "comment"

    def decide(self, post: Post, text: str) -> str:
        scheduling.request_changes(post=post, actor=self.request.user, comment=text)
        return "Sent back to the author with your comment."


class PostScheduleView(ObjectFirstMixin, WorkspaceMixin, View):
    """POST: schedule an approved post from its page: now, at the next queue slot, or at a local time."""

    required_action = Action.VIEW
    write_action = Action.SCHEDULE
    model = Post

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        post = get_scoped_or_404(Post, self.workspace, pk=pk)
        when = request.POST.get("when", "")
        tz = request.POST.get("timezone", "") or self.workspace.timezone
        try:
            if when == "now":
                scheduling.schedule_post(post=post, actor=request.user, when_local=None, tz=tz, post_now=True)
                messages.success(request, "Going out now.")
            elif when == "queue":
                scheduling.add_to_queue(post=post, actor=request.user)
                messages.success(request, "Added to the queue: each account's next free slot.")
            elif when == "at":
                raw = request.POST.get("scheduled_at", "")
                try:
                    # Naive on purpose: a wall-clock time in `tz`, which schedule_post resolves (DST included).
                    local = datetime.strptime(raw, "%Y-%m-%dT%H:%M")  # noqa: DTZ007
                except ValueError:
                    raise ValidationError("Give a date and a time to schedule it, e.g. 2026-12-01 09:30.") from None
                scheduling.schedule_post(post=post, actor=request.user, when_local=local, tz=tz)
                messages.success(request, f"Scheduled for {local:%a %d %b %Y, %H:%M} ({tz}).")
            else:
                messages.error(request, "Choose when to post it: now, the queue, or a time.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except PermissionDenied as exc:
            messages.error(request, str(exc) or "You may not schedule posts in this workspace.")
        return redirect("publishing:post_detail", workspace_slug=self.workspace.slug, pk=post.pk)
