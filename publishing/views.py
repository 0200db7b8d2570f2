"""The connections page: every platform, its accounts, connect / reconnect / disconnect, the OAuth callback.

Thin views: they parse input, call one service of `publishing.connections`, and
render or redirect. Object ids are always fetched through `get_scoped_or_404`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View

from accounts.models import Membership, Workspace
from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from billing.limits import plan_for
from publishing.connections import (
    ConnectionFailed,
    TokenUnavailable,
    complete_connection,
    connect_bluesky,
    connected_count,
    disconnect_account,
    display_name,
    plan_unlocking,
    renew_bluesky_session,
    start_connection,
)
from publishing.forms import BlueskyConnectForm, MastodonInstanceForm
from publishing.models import SocialAccount
from publishing.platforms import is_configured, is_emulated
from publishing.providers import REGISTRY, provider_class

# bootstrap-icons names (node_modules/bootstrap-icons/font/bootstrap-icons.json).
ICONS: dict[str, str] = {
    "x": "twitter-x",
    "linkedin": "linkedin",
    "facebook": "facebook",
    "instagram": "instagram",
    "threads": "threads",
    "mastodon": "mastodon",
    "bluesky": "bluesky",
}
STATUS_BADGES: dict[str, str] = {
    SocialAccount.Status.ACTIVE: "text-bg-success",
    SocialAccount.Status.RECONNECT_NEEDED: "text-bg-warning",
    SocialAccount.Status.REVOKED: "text-bg-secondary",
    SocialAccount.Status.ERROR: "text-bg-danger",
}


@dataclass
class AccountRow:
    account: SocialAccount
    badge: str  # Bootstrap classes of the status badge
    is_token_expired: bool


@dataclass
class PlatformCard:
    slug: str
    name: str
    icon: str
    auth_kind: str  # "oauth2", "app_password"; "" while the platform's provider is not installed
    is_configured: bool
    unlock_plan: str  # the plan that unlocks it when the workspace's plan may not use it, else ""
    accounts: list[AccountRow] = field(default_factory=list)


def _auth_kind(slug: str) -> str:
    try:
        return provider_class(slug).auth_kind
    except ImportError:  # a platform whose provider is not shipped here
        return ""


def _unlock_plan_name(slug: str) -> str:
    unlocking = plan_unlocking(slug)
    return unlocking.name if unlocking else "Not available"


def connections_url(workspace: Workspace) -> str:
    return reverse("publishing:connections", kwargs={"workspace_slug": workspace.slug})


class ConnectionsPageMixin(WorkspaceMixin):
    """Renders the connections page, with bound forms when a connect attempt failed."""

    template_name = "publishing/connections.html"

    def render_page(
        self,
        *,
        mastodon_form: MastodonInstanceForm | None = None,
        bluesky_form: BlueskyConnectForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        plan = plan_for(self.workspace)
        accounts = SocialAccount.objects.for_workspace(self.workspace).order_by("platform", "status", "handle")
        cards = {
            slug: PlatformCard(
                slug=slug,
                name=display_name(slug),
                icon=ICONS.get(slug, "globe"),
                auth_kind=_auth_kind(slug),
                is_configured=is_configured(slug),
                unlock_plan=_unlock_plan_name(slug) if slug in plan.platform_gates else "",
            )
            for slug in REGISTRY
        }
        now = timezone.now()
        for account in accounts:
            if account.platform in cards:
                expires_at = account.token_expires_at
                cards[account.platform].accounts.append(
                    AccountRow(
                        account=account,
                        badge=STATUS_BADGES.get(account.status, "text-bg-secondary"),
                        is_token_expired=expires_at is not None and expires_at <= now,
                    )
                )
        used = connected_count(self.workspace)
        limit = plan.max_platforms
        context: dict[str, Any] = {
            "workspace": self.workspace,
            "membership": self.membership,
            "may_manage": can(self.membership.role, Action.MANAGE_CONNECTIONS),
            "cards": list(cards.values()),
            "plan": plan,
            "used": used,
            "limit": limit,
            "is_full": limit is not None and used >= limit,
            "is_emulated": is_emulated(),
            "mastodon_form": mastodon_form or MastodonInstanceForm(),
            "bluesky_form": bluesky_form or BlueskyConnectForm(initial=self._bluesky_initial()),
        }
        return render(self.request, self.template_name, context, status=status)

    def _bluesky_initial(self) -> dict[str, str]:
        """Prefill the Bluesky form when the user came to reconnect a Bluesky account."""
        pk = self.request.GET.get("reconnect", "")
        if not pk.isdigit():
            return {}
        account = SocialAccount.objects.for_workspace(self.workspace).filter(pk=pk, platform="bluesky").first()
        if account is None:
            return {}
        pds = account.config.get("pds", "")
        return {"identifier": account.handle, "pds": pds.removeprefix("https://")}


class ConnectionsView(ConnectionsPageMixin, View):
    """GET: the connections page. Every member sees it; managing needs MANAGE_CONNECTIONS."""

    required_action = Action.VIEW
    write_action = Action.MANAGE_CONNECTIONS

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        return self.render_page()


class ConnectView(ConnectionsPageMixin, View):
    """POST: connect a platform. OAuth platforms redirect to the platform; Bluesky logs in here."""

    required_action = Action.MANAGE_CONNECTIONS

    def post(self, request: HttpRequest, workspace_slug: str, platform: str) -> HttpResponse:
        if platform not in REGISTRY:
            raise Http404("No such platform.")
        if platform == "bluesky":
            return self._connect_bluesky()
        mastodon_form = None
        server = ""
        if platform == "mastodon":
            mastodon_form = MastodonInstanceForm(request.POST)
            if not mastodon_form.is_valid():
                return self.render_page(mastodon_form=mastodon_form, status=400)
            server = mastodon_form.cleaned_data["instance"]
        try:
            url = start_connection(
                session=request.session, workspace=self.workspace, user=request.user, platform=platform, server=server
            )
        except ConnectionFailed as exc:
            if mastodon_form is not None:
                mastodon_form.add_error("instance", exc.message)
                return self.render_page(mastodon_form=mastodon_form, status=400)
            messages.error(request, exc.message)
            return redirect(connections_url(self.workspace))
        return HttpResponseRedirect(url)

    def _connect_bluesky(self) -> HttpResponse:
        form = BlueskyConnectForm(self.request.POST)
        if not form.is_valid():
            return self.render_page(bluesky_form=form, status=400)
        try:
            account = connect_bluesky(
                workspace=self.workspace,
                user=self.request.user,
                identifier=form.cleaned_data["identifier"],
                app_password=form.cleaned_data["app_password"],
                pds=form.cleaned_data["pds"],
            )
        except ConnectionFailed as exc:
            form.add_error(None, exc.message)
            return self.render_page(bluesky_form=form, status=400)
        messages.success(self.request, f"Connected {account.handle} on Bluesky.")
        return redirect(connections_url(self.workspace))


class ReconnectView(WorkspaceMixin, View):
    """POST: renew an account's access (the same row, so its history stays)."""

    required_action = Action.MANAGE_CONNECTIONS

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        # Look the account up first, so another workspace's id is 404 for every method.
        get_scoped_or_404(SocialAccount, self.workspace, pk=pk)
        return HttpResponseNotAllowed(["POST"])

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        account = get_scoped_or_404(SocialAccount, self.workspace, pk=pk)
        if account.platform == "bluesky":
            return self._reconnect_bluesky(account)
        try:
            url = start_connection(
                session=request.session,
                workspace=self.workspace,
                user=request.user,
                platform=account.platform,
                reconnect=account,
            )
        except ConnectionFailed as exc:
            messages.error(request, exc.message)
            return redirect(connections_url(self.workspace))
        return HttpResponseRedirect(url)

    def _reconnect_bluesky(self, account: SocialAccount) -> HttpResponse:
        """Log in again with the stored app password; if that fails, ask for a new one."""
        try:
            renew_bluesky_session(account=account, actor=self.request.user)
        except (ConnectionFailed, TokenUnavailable) as exc:
            messages.warning(self.request, f"{exc.message} Enter a new app password to reconnect {account.handle}.")
            return redirect(f"{connections_url(self.workspace)}?reconnect={account.pk}#connect-bluesky")
        messages.success(self.request, f"Reconnected {account.handle} on Bluesky.")
        return redirect(connections_url(self.workspace))


class DisconnectView(WorkspaceMixin, View):
    """POST: disconnect an account (revoked where the platform allows; the row and its history stay)."""

    required_action = Action.MANAGE_CONNECTIONS

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        get_scoped_or_404(SocialAccount, self.workspace, pk=pk)
        return HttpResponseNotAllowed(["POST"])

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        account = get_scoped_or_404(SocialAccount, self.workspace, pk=pk)
        disconnect_account(account=account, actor=request.user)
        messages.success(
            request,
            f"Disconnected {account.handle} from {display_name(account.platform)}. "
            "Its posts stay in your history; reconnect it any time.",
        )
        return redirect(connections_url(self.workspace))


class OAuthCallbackView(LoginRequiredMixin, View):
    """GET: where a platform sends the user back after consent. Success redirects; failure explains (400)."""

    template_name = "publishing/connection_failed.html"

    def get(self, request: HttpRequest, platform: str) -> HttpResponse:
        if platform not in REGISTRY:
            raise Http404("No such platform.")
        try:
            accounts = complete_connection(
                session=request.session, user=request.user, platform=platform, params=request.GET.dict()
            )
        except ConnectionFailed as exc:
            workspace = exc.workspace or self._last_workspace(request)
            context = {
                "platform_name": display_name(platform),
                "message": exc.message,
                "back_url": connections_url(workspace) if workspace else reverse("accounts:start"),
            }
            response = render(request, self.template_name, context, status=400)
            add_never_cache_headers(response)
            return response
        handles = ", ".join(account.handle for account in accounts)
        messages.success(request, f"Connected {handles} on {display_name(platform)}.")
        return redirect(connections_url(accounts[0].workspace))

    @staticmethod
    def _last_workspace(request: HttpRequest) -> Workspace | None:
        membership = (
            Membership.objects.filter(user=request.user, workspace_id=request.session.get("workspace_id"))
            .select_related("workspace")
            .first()
        )
        return membership.workspace if membership else None
