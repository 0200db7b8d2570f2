"""Connecting social accounts: OAuth 2.0 with state and PKCE, Mastodon apps, Bluesky app passwords.

The one module that turns platform answers into `SocialAccount` rows and back
into `Credentials`. Rules it keeps:

- An OAuth `state` is single-use, expires after `STATE_TTL`, and is bound to the
  browser session, the user, the workspace and the platform that started it.
- PKCE S256 wherever the provider supports it; redirect URIs only from the
  allowlist built from `OAUTH_REDIRECT_BASE_URL`.
- A failed connection (denied consent, bad state, token-exchange error, plan
  limit) raises `ConnectionFailed` with a plain message and stores nothing.
- Tokens never reach a message, a log line or an exception; a token that did not
  decrypt (wrong or missing key) is never used (`credentials_for`).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import MutableMapping
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, User, Workspace
from accounts.permissions import Action, can, require
from billing.limits import Limited, check, plan_for
from billing.plans import PLANS, Plan
from letsgrow.lib.safe_fetch import is_public_address
from publishing.fields import is_undecryptable
from publishing.models import MastodonApp, SocialAccount
from publishing.platforms import is_configured, is_emulated, provider_for
from publishing.providers import DISPLAY_NAMES, REGISTRY, provider_class
from publishing.providers.base import (
    AccountProfile,
    Credentials,
    Provider,
    ProviderError,
    TokenSet,
    code_challenge_s256,
    new_code_verifier,
    new_state,
)

logger = logging.getLogger(__name__)

# Where pending OAuth connections wait, keyed by state, in the user's session.
PENDING_SESSION_KEY = "publishing.pending_connections"
STATE_TTL = timedelta(minutes=10)
# Old attempts beyond this many are dropped, so abandoned tabs cannot grow the session.
MAX_PENDING = 10
APP_NAME = "LetsGrow"
APP_WEBSITE = "https://letsgrow.app"
UNDECRYPTABLE_MESSAGE = (
    "The encryption key is wrong or missing: cannot use the token. "
    "Restore the key it was saved with (FIELD_ENCRYPTION_KEY), or reconnect the account."
)

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class ConnectionFailed(Exception):
    """A connection could not be made or used. `message` is for people; `workspace` is where to send them back."""

    def __init__(self, message: str, *, workspace: Workspace | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.workspace = workspace


class TokenUnavailable(Exception):
    """A stored token cannot be used: it did not decrypt, or the account holds none."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- small helpers


def display_name(platform: str) -> str:
    return DISPLAY_NAMES.get(platform, platform)


def _role(user: User, workspace: Workspace) -> str | None:
    return Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True).first()


def connected_count(workspace: Workspace) -> int:
    """How many accounts count against the plan: every one not disconnected."""
    return SocialAccount.objects.for_workspace(workspace).exclude(status=SocialAccount.Status.REVOKED).count()


def plan_unlocking(platform: str) -> Plan | None:
    """The cheapest plan that may use `platform`."""
    return next((plan for plan in PLANS.values() if platform not in plan.platform_gates), None)


def _check_plan_gate(workspace: Workspace, platform: str, plan: Plan) -> None:
    if platform in plan.platform_gates:
        unlocking = plan_unlocking(platform)
        upgrade = f" Upgrade to {unlocking.name} to connect it." if unlocking else ""
        raise ConnectionFailed(
            f"{display_name(platform)} is not included in the {plan.name} plan.{upgrade}", workspace=workspace
        )


def _check_room_for(workspace: Workspace, new_accounts: int, plan: Plan) -> None:
    """Raise unless `new_accounts` more connected accounts fit the plan."""
    current = connected_count(workspace)
    for extra in range(new_accounts):
        limit = check(workspace, Limited.CONNECT_PLATFORM, current=current + extra, plan=plan)
        if not limit.allowed:
            raise ConnectionFailed(limit.message, workspace=workspace)


def _require_manager(user: User, workspace: Workspace) -> None:
    require(_role(user, workspace), Action.MANAGE_CONNECTIONS)


# --------------------------------------------------------------------------- redirect URIs


def _redirect_base() -> str:
    base = settings.OAUTH_REDIRECT_BASE_URL.rstrip("/")
    parts = urlsplit(base)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.path
        or parts.query
        or parts.fragment
    ):
        logger.error("OAUTH_REDIRECT_BASE_URL is not a plain http(s) origin; connecting is disabled.")
        raise ConnectionFailed("Connecting accounts is not set up correctly on this server. Please tell support.")
    return base


def allowed_redirect_uris() -> frozenset[str]:
    """Every redirect URI we give a platform: our callback for each platform, on OAUTH_REDIRECT_BASE_URL."""
    base = _redirect_base()
    return frozenset(base + reverse("publishing:oauth_callback", kwargs={"platform": slug}) for slug in REGISTRY)


def redirect_uri_for(platform: str) -> str:
    """The callback URI for `platform`; refuses anything outside the allowlist."""
    uri = _redirect_base() + reverse("publishing:oauth_callback", kwargs={"platform": platform})
    if uri not in allowed_redirect_uris():
        raise ConnectionFailed(f"Cannot connect {display_name(platform)}: its return address is not allowed.")
    return uri


# --------------------------------------------------------------------------- servers (Mastodon, Bluesky PDS)


def _resolve(host: str) -> list[str]:
    """The IP addresses `host` resolves to (patched in tests: they have no DNS)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)})


def normalise_host(value: str, *, what: str = "Mastodon server", example: str = "mastodon.social") -> str:
    """Read a server name typed by a person ("mastodon.social", "https://mastodon.social/") as a bare host.

    Refuses paths, queries, credentials, ports, IP literals and single-label names.
    Unless the platforms are emulated, also refuses names that resolve to private,
    loopback, link-local or otherwise non-public addresses: we must not be made to
    call into our own network. (The HTTP call resolves again; this check is the
    first line, not the only one.)
    """
    text = value.strip()
    hint = f"Enter the {what}'s name, e.g. {example}."
    if not text:
        raise ConnectionFailed(hint)
    if "@" in text:
        raise ConnectionFailed(f"{hint} Only the server, not your @handle or a login.")
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConnectionFailed(f"“{value.strip()}” is not a server name. {hint}") from exc
    if parts.scheme != "https":
        raise ConnectionFailed(f"Only https:// servers can be connected. {hint}")
    if port is not None or parts.path not in ("", "/") or parts.query or parts.fragment or "\\" in text:
        raise ConnectionFailed(f"Enter only the server's name, without a port, a path or a query. {hint}")
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ConnectionFailed(f"“{value.strip()}” is not a server name. {hint}") from exc
    if _is_ip_literal(host):
        raise ConnectionFailed(f"Enter the server's name, not an IP address. {hint}")
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ConnectionFailed(f"“{value.strip()}” is not a server name. {hint}")
    if not is_emulated():
        try:
            addresses = _resolve(host)
        except (OSError, UnicodeError) as exc:
            raise ConnectionFailed(f"Could not find the server “{host}”. Check the spelling.") from exc
        if not addresses or not all(is_public_address(address) for address in addresses):
            raise ConnectionFailed(f"“{host}” is not a public server on the internet, so it cannot be connected.")
    return host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def ensure_mastodon_app(*, instance: str, redirect_uri: str) -> MastodonApp:
    """Our OAuth app on `instance`: registered there once, then reused.

    Registers again when our redirect URI changed since (a new site address), when
    the stored secret does not decrypt, and always against the emulator: it keeps
    its apps in memory and forgets them when it restarts.
    """
    app = MastodonApp.objects.filter(instance=instance).first()
    if (
        app is not None
        and app.redirect_uri == redirect_uri
        and app.client_id
        and not is_undecryptable(app.client_secret)
        and not is_emulated()
    ):
        return app
    provider = provider_for("mastodon", server=instance)
    try:
        client_id, client_secret = provider.register_app(
            redirect_uri=redirect_uri, app_name=APP_NAME, website=APP_WEBSITE
        )
    except ProviderError as exc:
        raise ConnectionFailed(f"Could not register LetsGrow on {instance}: {exc.message}") from exc
    values = {"client_id": client_id, "client_secret": client_secret, "redirect_uri": redirect_uri}
    try:
        with transaction.atomic():
            app, _created = MastodonApp.objects.update_or_create(instance=instance, defaults=values)
    except IntegrityError:
        # Someone registered this instance at the same moment: theirs is as good as ours.
        app = MastodonApp.objects.get(instance=instance)
    return app


def _mastodon_provider(instance: str) -> Provider:
    app = MastodonApp.objects.filter(instance=instance).first()
    if app is None or is_undecryptable(app.client_secret):
        raise TokenUnavailable(
            UNDECRYPTABLE_MESSAGE
            if app is not None
            else f"LetsGrow is not registered on {instance}: reconnect the account."
        )
    return provider_for("mastodon", server=instance, client_id=app.client_id, client_secret=app.client_secret)


def provider_for_account(account: SocialAccount) -> Provider:
    """The provider that acts for `account`: its Mastodon instance or Bluesky PDS included."""
    if account.platform == "mastodon":
        return _mastodon_provider(account.config.get("instance", ""))
    if account.platform == "bluesky":
        return provider_for("bluesky", server=account.config.get("pds", ""))
    return provider_for(account.platform)


# --------------------------------------------------------------------------- OAuth: start


def start_connection(
    *,
    session: MutableMapping[str, Any],
    workspace: Workspace,
    user: User,
    platform: str,
    server: str = "",
    reconnect: SocialAccount | None = None,
) -> str:
    """Begin connecting a `platform` account to `workspace`; return the platform's authorization URL.

    Checks the user's right to manage connections (PermissionDenied), the plan
    (gated platform, limit) and that the platform is configured here
    (ConnectionFailed). `server` is the Mastodon instance as the user typed it.
    `reconnect`: an existing account of this workspace to renew. The pending
    attempt waits in `session` under a fresh state for `STATE_TTL`.
    """
    _require_manager(user, workspace)
    if platform not in REGISTRY:
        raise ConnectionFailed("There is no such platform.", workspace=workspace)
    name = display_name(platform)
    if reconnect is not None and (reconnect.workspace_id != workspace.pk or reconnect.platform != platform):
        raise ConnectionFailed("That account does not belong here.", workspace=workspace)
    plan = plan_for(workspace)
    _check_plan_gate(workspace, platform, plan)
    if reconnect is None or reconnect.status == SocialAccount.Status.REVOKED:
        _check_room_for(workspace, 1, plan)
    if not is_configured(platform):
        raise ConnectionFailed(f"{name} is not set up on this server yet.", workspace=workspace)
    cls = provider_class(platform)
    if cls.auth_kind != "oauth2":
        raise ConnectionFailed(f"{name} connects with a handle and an app password instead.", workspace=workspace)
    redirect_uri = redirect_uri_for(platform)
    instance = ""
    try:
        if cls.registers_per_server:
            instance = normalise_host(reconnect.config.get("instance", "") if reconnect else server)
            app = ensure_mastodon_app(instance=instance, redirect_uri=redirect_uri)
            provider = provider_for(platform, server=instance, client_id=app.client_id, client_secret=app.client_secret)
        else:
            provider = provider_for(platform)
    except ConnectionFailed as exc:
        exc.workspace = workspace
        raise
    state = new_state()
    verifier = new_code_verifier() if provider.supports_pkce else ""
    url = provider.authorization_url(
        state=state, redirect_uri=redirect_uri, code_challenge=code_challenge_s256(verifier) if verifier else ""
    )
    pending = _live_pending(session)
    pending[state] = {
        "platform": platform,
        "workspace_id": workspace.pk,
        "user_id": user.pk,
        "code_verifier": verifier,
        "server": instance,
        "redirect_uri": redirect_uri,
        "created_at": timezone.now().timestamp(),
        "reconnect_id": reconnect.pk if reconnect else None,
    }
    newest = sorted(pending.items(), key=lambda item: item[1]["created_at"])[-MAX_PENDING:]
    session[PENDING_SESSION_KEY] = dict(newest)
    return url


def _live_pending(session: MutableMapping[str, Any]) -> dict[str, dict[str, Any]]:
    cutoff = (timezone.now() - STATE_TTL).timestamp()
    stored = session.get(PENDING_SESSION_KEY) or {}
    return {state: entry for state, entry in stored.items() if entry.get("created_at", 0) > cutoff}


# --------------------------------------------------------------------------- OAuth: complete


def complete_connection(
    *, session: MutableMapping[str, Any], user: User, platform: str, params: dict[str, str]
) -> list[SocialAccount]:
    """Finish the OAuth attempt named by `params["state"]`; return the connected accounts.

    The state is used up first, so it works once whatever happens next. An
    unknown, reused or expired state, another user's or another platform's,
    a denied consent, a platform error, or a plan that has no room left raise
    ConnectionFailed with a plain message, and nothing is stored.
    """
    name = display_name(platform)
    state = params.get("state", "")
    stored = dict(session.get(PENDING_SESSION_KEY) or {})
    entry = stored.pop(state, None) if state else None
    session[PENDING_SESSION_KEY] = stored
    if entry is None:
        raise ConnectionFailed(
            f"This {name} connection link is not valid any more: it was already used, or it was not started "
            "from this browser. Start again from the connections page."
        )
    workspace = Workspace.objects.filter(pk=entry["workspace_id"]).first()
    if entry["user_id"] != user.pk or entry["platform"] != platform or workspace is None:
        raise ConnectionFailed(
            f"This {name} connection was started by someone else or for another platform. Please start again."
        )
    if entry["created_at"] <= (timezone.now() - STATE_TTL).timestamp():
        raise ConnectionFailed(
            f"The connection to {name} took longer than {int(STATE_TTL.total_seconds() // 60)} minutes. "
            "Please start again.",
            workspace=workspace,
        )
    if not can(_role(user, workspace), Action.MANAGE_CONNECTIONS):
        raise ConnectionFailed("Your role in this workspace no longer allows connecting accounts.")
    if error := params.get("error", ""):
        if error == "access_denied":
            raise ConnectionFailed(
                f"You cancelled the connection on {name}, so nothing was connected.", workspace=workspace
            )
        description = params.get("error_description", "")[:200]
        detail = f" ({description})" if description else ""
        raise ConnectionFailed(
            f"{name} did not allow the connection: {error[:60]}{detail}. Nothing was connected.", workspace=workspace
        )
    code = params.get("code", "")
    if not code:
        raise ConnectionFailed(f"{name} sent you back without an authorization. Please try again.", workspace=workspace)
    if entry["redirect_uri"] not in allowed_redirect_uris():
        raise ConnectionFailed(f"Cannot connect {name}: its return address is not allowed.", workspace=workspace)

    instance = entry["server"]
    try:
        provider = (
            _mastodon_provider(instance) if provider_class(platform).registers_per_server else provider_for(platform)
        )
        tokens = provider.exchange_code(
            code=code, redirect_uri=entry["redirect_uri"], code_verifier=entry["code_verifier"]
        )
        profiles = provider.fetch_accounts(tokens)
    except TokenUnavailable as exc:
        raise ConnectionFailed(f"Cannot connect {name}: {exc.message}", workspace=workspace) from exc
    except ProviderError as exc:
        logger.warning("Connecting %s for workspace %s failed: %s", platform, workspace.pk, exc.message)
        raise ConnectionFailed(
            f"{name} did not complete the connection: {exc.message.rstrip('.')}. "
            "Nothing was connected; please try again.",
            workspace=workspace,
        ) from exc
    try:
        if not profiles:
            raise ConnectionFailed(f"{name} returned no account LetsGrow can post to.", workspace=workspace)
        if instance:
            profiles = [_per_server_profile(profile, instance) for profile in profiles]
        if entry["reconnect_id"] is not None:
            profiles = _profiles_for_reconnect(workspace, platform, entry["reconnect_id"], profiles)
        return _save_profiles(workspace=workspace, user=user, platform=platform, profiles=profiles, tokens=tokens)
    except ConnectionFailed:
        _give_back(provider, tokens, profiles)
        raise


def _give_back(provider: Provider, tokens: TokenSet, profiles: list[AccountProfile]) -> None:
    """Revoke tokens we obtained but will not keep, where the platform allows; failures only logged."""
    if not provider.can_revoke:
        return
    unused = [tokens, *(p.tokens for p in profiles if p.tokens is not None and p.tokens is not tokens)]
    for token_set in unused:
        try:
            provider.revoke(Credentials(access_token=token_set.access_token, refresh_token=token_set.refresh_token))
        except ProviderError as exc:
            logger.warning("Could not revoke an unused %s token: %s", provider.slug, exc.message)


def _per_server_profile(profile: AccountProfile, instance: str) -> AccountProfile:
    """Key a Mastodon account as id@instance: ids are per server, and two servers may share one."""
    return replace(
        profile,
        account_id=f"{profile.account_id}@{instance}",
        config={**profile.config, "instance": instance, "remote_account_id": profile.account_id},
    )


def _profiles_for_reconnect(
    workspace: Workspace, platform: str, account_pk: int, profiles: list[AccountProfile]
) -> list[AccountProfile]:
    account = SocialAccount.objects.for_workspace(workspace).filter(pk=account_pk, platform=platform).first()
    if account is None:
        raise ConnectionFailed("The account to reconnect no longer exists here.", workspace=workspace)
    matching = [profile for profile in profiles if profile.account_id == account.account_id]
    if not matching:
        signed_in = ", ".join(profile.handle for profile in profiles)
        raise ConnectionFailed(
            f"You signed in to {display_name(platform)} as {signed_in}, but the account to reconnect is "
            f"{account.handle}. Sign in as {account.handle} and try again; nothing was changed.",
            workspace=workspace,
        )
    return matching


@transaction.atomic
def _save_profiles(
    *,
    workspace: Workspace,
    user: User | None,
    platform: str,
    profiles: list[AccountProfile],
    tokens: TokenSet | None,
    app_password: str = "",
) -> list[SocialAccount]:
    """Insert or update one row per profile (same row on reconnect), after re-checking the plan."""
    # Serialise connections of one workspace, so two tabs cannot both take the last free slot.
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
    plan = plan_for(workspace)
    _check_plan_gate(workspace, platform, plan)
    existing = {
        account.account_id: account
        for account in SocialAccount.objects.for_workspace(workspace).filter(
            platform=platform, account_id__in=[profile.account_id for profile in profiles]
        )
    }
    new_slots = sum(
        1
        for profile in profiles
        if profile.account_id not in existing or existing[profile.account_id].status == SocialAccount.Status.REVOKED
    )
    _check_room_for(workspace, new_slots, plan)
    saved = []
    for profile in profiles:
        account_tokens = profile.tokens or tokens
        if account_tokens is None or not account_tokens.access_token:
            raise ConnectionFailed(
                f"{display_name(platform)} gave no access for {profile.handle}. Please try again.", workspace=workspace
            )
        account = existing.get(profile.account_id) or SocialAccount(
            workspace=workspace, platform=platform, account_id=profile.account_id
        )
        account.handle = profile.handle[:255]
        account.display_name = profile.display_name[:255]
        account.avatar_url = profile.avatar_url if len(profile.avatar_url) <= 1000 else ""
        account.scopes = list(account_tokens.scopes)
        account.access_token = account_tokens.access_token
        account.refresh_token = account_tokens.refresh_token
        account.token_expires_at = account_tokens.expires_at
        account.app_password = app_password
        account.config = {**account.config, **profile.config}
        account.status = SocialAccount.Status.ACTIVE
        account.last_error = ""
        account.connected_by = user
        account.save()
        saved.append(account)
    return saved


# --------------------------------------------------------------------------- Bluesky: app password


@transaction.atomic
def connect_bluesky(
    *, workspace: Workspace, user: User, identifier: str, app_password: str, pds: str = ""
) -> SocialAccount:
    """Connect a Bluesky account with its handle and an app password; return the account.

    `pds`: the user's PDS host or URL when it is not the default one. The session
    tokens are stored encrypted. A wrong handle or password, a plan without room,
    or an unreachable PDS raise ConnectionFailed, and nothing is stored.
    """
    _require_manager(user, workspace)
    plan = plan_for(workspace)
    _check_plan_gate(workspace, "bluesky", plan)
    handle = identifier.strip().removeprefix("@")
    password = app_password.strip()
    if not handle or len(handle) > 253 or any(char.isspace() for char in handle):
        raise ConnectionFailed("Enter your Bluesky handle, e.g. alice.bsky.social.", workspace=workspace)
    if not password:
        raise ConnectionFailed(
            "Enter an app password (Bluesky: Settings → Privacy and security → App passwords).", workspace=workspace
        )
    server = ""
    if pds.strip():
        try:
            server = "https://" + normalise_host(pds, what="Bluesky PDS", example="bsky.social")
        except ConnectionFailed as exc:
            exc.workspace = workspace
            raise
    profile = _bluesky_login(workspace=workspace, server=server, identifier=handle, password=password)
    return _save_profiles(
        workspace=workspace,
        user=user,
        platform="bluesky",
        profiles=[profile],
        tokens=profile.tokens,
        app_password=password,
    )[0]


def _bluesky_login(*, workspace: Workspace, server: str, identifier: str, password: str) -> AccountProfile:
    # The profile's config names the PDS that issued the session (the provider's own base).
    provider = provider_for("bluesky", server=server)
    try:
        return provider.login(identifier=identifier, password=password)
    except ProviderError as exc:
        logger.warning("Bluesky login for workspace %s failed: %s", workspace.pk, exc.message)
        raise ConnectionFailed(
            f"Bluesky did not accept this handle and app password: {exc.message}", workspace=workspace
        ) from exc


def renew_bluesky_session(*, account: SocialAccount, actor: User | None = None) -> SocialAccount:
    """Open a new Bluesky session with the stored app password, when the refresh token has run out.

    `actor`: the person asking (needs MANAGE_CONNECTIONS); None for the system.
    Raises ConnectionFailed when there is no usable app password or Bluesky refuses
    it (the user then enters a new one), TokenUnavailable when it did not decrypt.
    """
    workspace = account.workspace
    if actor is not None:
        _require_manager(actor, workspace)
    if account.platform != "bluesky":
        raise ConnectionFailed("Only Bluesky accounts log in with an app password.", workspace=workspace)
    if is_undecryptable(account.app_password):
        credentials_for(account)  # marks the account and raises TokenUnavailable
    if not account.app_password:
        raise ConnectionFailed(f"There is no saved app password for {account.handle}.", workspace=workspace)
    profile = _bluesky_login(
        workspace=workspace,
        server=account.config.get("pds", ""),
        identifier=account.handle,
        password=account.app_password,
    )
    if profile.account_id != account.account_id:
        raise ConnectionFailed("Bluesky answered for another account; nothing was changed.", workspace=workspace)
    return _save_profiles(
        workspace=workspace,
        user=actor or account.connected_by,
        platform="bluesky",
        profiles=[profile],
        tokens=profile.tokens,
        app_password=account.app_password,
    )[0]


# --------------------------------------------------------------------------- using and keeping tokens


def credentials_for(account: SocialAccount) -> Credentials:
    """The decrypted credentials of `account`, for a provider call. Never log them.

    Raises TokenUnavailable when a stored token did not decrypt (the encryption
    key is wrong or missing), after marking the account `error` with that plain
    message; or when the account holds no token (disconnected).
    """
    if any(is_undecryptable(value) for value in (account.access_token, account.refresh_token, account.app_password)):
        logger.error(
            "Account %s (%s): its tokens do not decrypt with the configured keys.", account.pk, account.platform
        )
        if account.status != SocialAccount.Status.ERROR or account.last_error != UNDECRYPTABLE_MESSAGE:
            account.status = SocialAccount.Status.ERROR
            account.last_error = UNDECRYPTABLE_MESSAGE
            account.save(update_fields=["status", "last_error", "updated_at"])
        raise TokenUnavailable(UNDECRYPTABLE_MESSAGE)
    if not account.access_token:
        raise TokenUnavailable(f"{account} holds no token: reconnect it.")
    return Credentials(
        access_token=account.access_token,
        # Mastodon rows are keyed id@instance; the server knows the account by its own id.
        account_id=account.config.get("remote_account_id") or account.account_id,
        refresh_token=account.refresh_token,
        expires_at=account.token_expires_at,
        config=dict(account.config),
    )


@transaction.atomic
def save_refreshed_tokens(*, account: SocialAccount, tokens: TokenSet) -> SocialAccount:
    """Store tokens a refresh returned; keep the old refresh token when the platform sent none."""
    account.access_token = tokens.access_token
    if tokens.refresh_token:
        account.refresh_token = tokens.refresh_token
    account.token_expires_at = tokens.expires_at
    fields = ["access_token", "refresh_token", "token_expires_at", "status", "last_error", "updated_at"]
    if tokens.scopes:
        account.scopes = list(tokens.scopes)
        fields.append("scopes")
    account.status = SocialAccount.Status.ACTIVE
    account.last_error = ""
    account.save(update_fields=fields)
    return account


@transaction.atomic
def mark_reconnect_needed(*, account: SocialAccount, reason: str) -> SocialAccount:
    """Flag `account` for the user to reconnect, saying why in plain words (`reason` holds no token)."""
    account.status = SocialAccount.Status.RECONNECT_NEEDED
    account.last_error = reason[:1000]
    account.save(update_fields=["status", "last_error", "updated_at"])
    return account


def disconnect_account(*, account: SocialAccount, actor: User) -> SocialAccount:
    """Disconnect `account`: revoke its token where the platform allows, forget the tokens, keep the row.

    The row stays (status revoked) so the account's post history keeps its
    account; reconnecting the same account reuses it. A failed revocation is
    logged (without the token) and does not stop the disconnection.
    """
    _require_manager(actor, account.workspace)
    if account.status != SocialAccount.Status.REVOKED and provider_class(account.platform).can_revoke:
        try:
            provider_for_account(account).revoke(credentials_for(account))
        except (ProviderError, TokenUnavailable) as exc:
            logger.warning(
                "Could not revoke the token of account %s (%s): %s", account.pk, account.platform, exc.message
            )
    account.access_token = ""
    account.refresh_token = ""
    account.app_password = ""
    account.token_expires_at = None
    account.status = SocialAccount.Status.REVOKED
    account.last_error = ""
    account.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "app_password",
            "token_expires_at",
            "status",
            "last_error",
            "updated_at",
        ]
    )
    logger.info("Account %s (%s) disconnected by user %s.", account.pk, account.platform, actor.pk)
    return account
