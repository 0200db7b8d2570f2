"""The onboarding wizard: welcome and plan → platforms → content domains → automation → dashboard.

Thin: each page parses its form, calls one service from letsgrow/onboarding/services.py, renders.
The workspace's saved step is the furthest reached; earlier pages stay open to revisit.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.generic import FormView, TemplateView, View

from accounts.onboarding import Step, has_reached
from accounts.permissions import Action, can
from accounts.views.mixins import WorkspaceMixin
from billing.limits import plan_for
from billing.plans import DEFAULT_PLAN
from content.models import ContentDomain
from letsgrow.onboarding import services, steps
from letsgrow.onboarding.forms import AutomationForm, DomainsForm, WorkspaceNameForm
from publishing.models import AutomationSettings
from publishing.services import MAX_POSTS_PER_DAY, known_timezones


class StartView(LoginRequiredMixin, FormView):
    """/onboarding/: name the first workspace and see the plans; resumes an unfinished one instead."""

    template_name = "onboarding/start.html"
    form_class = WorkspaceNameForm

    def get(self, request, *args, **kwargs):
        workspace = steps.unfinished_workspace(request.user)
        if workspace is not None:
            return redirect("onboarding:resume", workspace_slug=workspace.slug)
        return super().get(request, *args, **kwargs)

    def get_initial(self):
        return {"name": steps.default_workspace_name(self.request.user)}

    def get_context_data(self, **kwargs):
        plans, plan_rows = steps.plan_table()
        kwargs.update(
            plans=plans, plan_rows=plan_rows, current_plan=DEFAULT_PLAN, steps=steps.first_step_links(), can_manage=True
        )
        return super().get_context_data(**kwargs)

    def form_valid(self, form):
        # An unfinished workspace of this user is returned rather than duplicated (double submit, second tab).
        workspace = services.start_onboarding(owner=self.request.user, name=form.cleaned_data["name"])
        return redirect(steps.step_url(workspace, workspace.onboarding_step))


class ResumeView(WorkspaceMixin, View):
    """/w/<slug>/onboarding/: back to where the workspace's setup stopped (the dashboard once done)."""

    def get(self, request, *args, **kwargs):
        step = self.workspace.onboarding_step
        if step != Step.DONE and not can(self.membership.role, Action.MANAGE_SETTINGS):
            # Members who cannot set up the workspace may still see its plan on the welcome page.
            step = Step.WELCOME
        return redirect(steps.step_url(self.workspace, step))


class StepView(WorkspaceMixin, TemplateView):
    """One page of the wizard. Owners and admins fill it in; pages not reached yet send you back."""

    step: Step
    required_action = Action.MANAGE_SETTINGS
    write_action = Action.MANAGE_SETTINGS

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except PermissionDenied as exc:
            return render(request, "onboarding/forbidden.html", {"message": str(exc)}, status=403)

    def get(self, request, *args, **kwargs):
        return self.not_reached_redirect() or super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        return self.not_reached_redirect() or self.save()

    def save(self) -> HttpResponse:
        raise NotImplementedError

    def not_reached_redirect(self) -> HttpResponse | None:
        if has_reached(self.workspace, self.step):
            return None
        messages.info(self.request, "Finish this step first; you can go back to earlier ones at any time.")
        return redirect("onboarding:resume", workspace_slug=self.workspace.slug)

    def next_page(self) -> HttpResponse:
        return redirect(steps.step_url(self.workspace, steps.next_step(self.step)))

    def get_context_data(self, **kwargs):
        can_manage = can(self.membership.role, Action.MANAGE_SETTINGS)
        kwargs.update(
            step=self.step,
            can_manage=can_manage,
            plan=plan_for(self.workspace),
            steps=steps.step_links(self.workspace, current=self.step, can_manage=can_manage),
        )
        return super().get_context_data(**kwargs)


class WelcomeStepView(StepView):
    step = Step.WELCOME
    template_name = "onboarding/welcome.html"
    required_action = Action.VIEW  # everyone may see the plans; only owners and admins continue

    def get_context_data(self, **kwargs):
        plans, plan_rows = steps.plan_table()
        kwargs.update(plans=plans, plan_rows=plan_rows, current_plan=plan_for(self.workspace))
        return super().get_context_data(**kwargs)

    def save(self) -> HttpResponse:
        services.confirm_plan(workspace=self.workspace)
        return self.next_page()


class PlatformsStepView(StepView):
    step = Step.PLATFORMS
    template_name = "onboarding/platforms.html"

    def get_context_data(self, **kwargs):
        plan = plan_for(self.workspace)
        kwargs.update(platform_cards=steps.platform_cards(plan), connections_url=steps.connections_url(self.workspace))
        return super().get_context_data(**kwargs)

    def save(self) -> HttpResponse:
        services.finish_platforms_step(workspace=self.workspace)
        return self.next_page()


class DomainsStepView(StepView):
    step = Step.DOMAINS
    template_name = "onboarding/domains.html"

    def build_form(self, data=None) -> DomainsForm:
        existing = list(ContentDomain.objects.for_workspace(self.workspace).order_by("created_at", "pk"))
        initial = {
            "built_in": [domain.key for domain in existing if not domain.is_custom],
            "custom": ", ".join(domain.name for domain in existing if domain.is_custom),
        }
        return DomainsForm(data, initial=initial)

    def get_context_data(self, **kwargs):
        form = kwargs.setdefault("form", self.build_form())
        checked = form.data.getlist("built_in") if form.is_bound else form.initial["built_in"]
        kwargs["domain_cards"] = steps.domain_cards(plan_for(self.workspace), checked)
        return super().get_context_data(**kwargs)

    def save(self) -> HttpResponse:
        form = self.build_form(self.request.POST)
        if form.is_valid():
            try:
                domains = services.save_domains_step(
                    workspace=self.workspace,
                    built_in_keys=form.cleaned_data["built_in"],
                    custom_names=form.cleaned_data["custom"],
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                count = len(domains)
                messages.success(self.request, f"Saved {count} content domain{'s' if count != 1 else ''}.")
                return self.next_page()
        return self.render_to_response(self.get_context_data(form=form))


class AutomationStepView(StepView):
    step = Step.AUTOMATION
    template_name = "onboarding/automation.html"

    def build_form(self, data=None) -> AutomationForm:
        workspace = self.workspace
        domains = list(ContentDomain.objects.for_workspace(workspace).order_by("name"))
        saved = AutomationSettings.objects.filter(workspace=workspace).first() or AutomationSettings(
            workspace=workspace
        )
        keys = [domain.key for domain in domains]
        mix = saved.content_mix if sorted(saved.content_mix) == sorted(keys) else steps.even_mix(keys)
        if workspace.is_onboarded:
            timezone = saved.timezone
        else:
            # Left empty until chosen, so the page fills in the browser's zone instead of the UTC default.
            timezone = "" if workspace.timezone == "UTC" else workspace.timezone
        max_posts = min(plan_for(workspace).max_posts_per_day or MAX_POSTS_PER_DAY, MAX_POSTS_PER_DAY)
        initial = {
            "timezone": timezone,
            "active_from": saved.active_from,
            "active_until": saved.active_until,
            "posts_per_day": min(saved.posts_per_day, max_posts),
            "posting_times": ", ".join(saved.posting_times),
            "review_before_posting": saved.review_before_posting,
            **{AutomationForm.mix_field_name(key): share for key, share in mix.items()},
        }
        return AutomationForm(data, initial=initial, domains=domains, max_posts_per_day=max_posts)

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", self.build_form())
        kwargs["timezones"] = sorted(known_timezones())
        return super().get_context_data(**kwargs)

    def save(self) -> HttpResponse:
        form = self.build_form(self.request.POST)
        if form.is_valid():
            try:
                services.complete_onboarding(workspace=self.workspace, **form.service_kwargs())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(self.request, f"Setup complete: {self.workspace.name} is ready.")
                return redirect("analytics:dashboard", workspace_slug=self.workspace.slug)
        return self.render_to_response(self.get_context_data(form=form))


STEP_VIEWS = {
    Step.WELCOME.value: WelcomeStepView.as_view(),
    Step.PLATFORMS.value: PlatformsStepView.as_view(),
    Step.DOMAINS.value: DomainsStepView.as_view(),
    Step.AUTOMATION.value: AutomationStepView.as_view(),
}


def step_view(request, workspace_slug: str, step: str) -> HttpResponse:
    """/w/<slug>/onboarding/<step>/: the page of one step."""
    view = STEP_VIEWS.get(step)
    if view is None:
        raise Http404("No such onboarding step.")
    return view(request, workspace_slug=workspace_slug, step=step)
