"""Pages of the content planner: a new plan, one plan's progress and posts, past plans.

Thin: parse, call one service of `letsgrow.planner.services`, render. Editors
create and resume plans; every member may watch them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from billing.limits import plan_for
from content.ai.client import llm_configured
from content.models import ContentDomain, ContentPlan, Post
from letsgrow.planner import services
from letsgrow.planner.forms import ContentPlanForm, initial_values
from publishing.models import AutomationSettings, SocialAccount
from publishing.views_posts import POST_BADGES

PLANS_PER_PAGE = 25
PLAN_BADGES = {
    ContentPlan.Status.QUEUED: "text-bg-secondary",
    ContentPlan.Status.RUNNING: "text-bg-info",
    ContentPlan.Status.DONE: "text-bg-success",
    ContentPlan.Status.FAILED: "text-bg-danger",
}


class PlanNewView(WorkspaceMixin, View):
    """GET: the form for a new plan (read-only for members who cannot write). POST: create it, then watch it."""

    template_name = "planner/plan_new.html"
    required_action = Action.VIEW
    write_action = Action.EDIT_CONTENT

    def _choices(self) -> tuple[list[ContentDomain], list[SocialAccount], int]:
        domains = list(ContentDomain.objects.for_workspace(self.workspace).order_by("name"))
        accounts = list(
            SocialAccount.objects.for_workspace(self.workspace)
            .filter(status=SocialAccount.Status.ACTIVE)
            .order_by("platform", "handle")
        )
        limit = plan_for(self.workspace).max_posts_per_day
        return domains, accounts, min(services.MAX_POSTS_PER_DAY, limit or services.MAX_POSTS_PER_DAY)

    def _form(self, data=None) -> ContentPlanForm:
        domains, accounts, max_per_day = self._choices()
        initial = None
        if data is None:
            automation = AutomationSettings.objects.filter(workspace=self.workspace).first()
            tomorrow = (datetime.now(tz=UTC).astimezone(self.workspace.zone) + timedelta(days=1)).date()
            initial = initial_values(
                domains=domains,
                accounts=accounts,
                saved_mix=automation.content_mix if automation else {},
                tomorrow=tomorrow,
                per_day=min(2, max_per_day),
            )
        return ContentPlanForm(data, initial=initial, domains=domains, accounts=accounts, max_posts_per_day=max_per_day)

    def _render(self, form: ContentPlanForm, *, status: int = 200) -> HttpResponse:
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "form": form,
            "may_create": can(self.membership.role, Action.EDIT_CONTENT),
            "may_set_up": can(self.membership.role, Action.MANAGE_SETTINGS),
            "plan": plan_for(self.workspace),
            "is_offline": not llm_configured(self.workspace),
            "recent": ContentPlan.objects.for_workspace(self.workspace).order_by("-created_at")[:5],
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        return self._render(self._form())

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        form = self._form(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        try:
            plan = services.create_content_plan(workspace=self.workspace, actor=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
            return self._render(form, status=400)
        messages.success(request, f"Generating {plan.total} posts. You can leave this page: they keep coming.")
        return redirect("planner:detail", workspace_slug=self.workspace.slug, pk=plan.pk)


class PlanListView(WorkspaceMixin, View):
    """GET: the workspace's plans, newest first."""

    template_name = "planner/plan_list.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        plans = ContentPlan.objects.for_workspace(self.workspace).select_related("created_by").order_by("-created_at")
        page = Paginator(plans, PLANS_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "page": page,
            "plans": page.object_list,
            "may_create": can(self.membership.role, Action.EDIT_CONTENT),
        }
        return render(request, self.template_name, context)


@dataclass(frozen=True)
class PostRow:
    post: Post
    badge: str
    planned_for: datetime | None
    is_offline: bool


def _planned_for(post: Post) -> datetime | None:
    try:
        return datetime.fromisoformat(str((post.generation or {}).get("planned_for")))
    except ValueError:
        return None


class _OnePlanView(WorkspaceMixin, View):
    """A page of one plan: another workspace's plan is 404 whatever the method (405 only for this one's)."""

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        get_scoped_or_404(ContentPlan, self.workspace, pk=kwargs.get("pk"))
        return super().http_method_not_allowed(request, *args, **kwargs)


class PlanDetailView(_OnePlanView):
    """GET: the plan's progress (a bar that updates itself) and the posts it made, in posting order."""

    template_name = "planner/plan_detail.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        plan = get_scoped_or_404(ContentPlan, self.workspace, pk=pk)
        progress = services.progress_of(plan)
        posts = Post.objects.filter(content_plan=plan).select_related("domain")
        rows = [
            PostRow(
                post=post,
                badge=POST_BADGES.get(post.status, "text-bg-secondary"),
                planned_for=_planned_for(post),
                is_offline=post.source == Post.Source.TEMPLATE,
            )
            for post in posts
        ]
        far = datetime.max.replace(tzinfo=UTC)
        rows.sort(key=lambda row: (row.planned_for or far, row.post.pk))
        may_create = can(self.membership.role, Action.EDIT_CONTENT)
        names = dict(ContentDomain.objects.for_workspace(self.workspace).values_list("key", "name"))
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "content_plan": plan,
            "progress": progress,
            "rows": rows,
            "offline_count": sum(row.is_offline for row in rows),
            "badge": "text-bg-warning" if progress.is_stalled else PLAN_BADGES.get(plan.status, "text-bg-secondary"),
            "may_resume": may_create and services.may_resume(plan),
            "missing": services.missing_count(plan),
            "stall_minutes": int(services.STALL_AFTER.total_seconds() // 60),
            "mix": [(names.get(key, key), percent) for key, percent in plan.domain_mix.items()],
        }
        return render(request, self.template_name, context)


class PlanProgressView(_OnePlanView):
    """GET: the plan's progress as JSON (status, total, done, failed, retries, error, percent, stalled)."""

    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> JsonResponse:
        plan = get_scoped_or_404(ContentPlan, self.workspace, pk=pk)
        response = JsonResponse(services.progress_of(plan).as_dict())
        response["Cache-Control"] = "no-store"
        return response


class PlanResumeView(_OnePlanView):
    """POST: generate the plan's missing posts again (a failed, partly failed or stalled plan)."""

    required_action = Action.EDIT_CONTENT

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        plan = get_scoped_or_404(ContentPlan, self.workspace, pk=pk)
        try:
            services.resume_content_plan(plan=plan, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Generating the missing posts again.")
        return redirect("planner:detail", workspace_slug=self.workspace.slug, pk=plan.pk)
