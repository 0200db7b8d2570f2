"""The provider contract: one class per platform, plain dataclasses in and out.

Providers are pure HTTP clients of one platform. They never import models,
services or settings of other apps: publishing's services translate rows to
these dataclasses and back, and build each provider with its `ProviderConfig`.
Every failure leaves a provider as a `ProviderError` with one `ErrorKind`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import urlencode

import requests
from urllib3.exceptions import ProtocolError

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- errors


class ErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # retry after `retry_after` seconds
    AUTH_EXPIRED = "auth_expired"  # refresh the token once, else the account needs reconnecting
    DUPLICATE = "duplicate"  # the platform refuses identical content
    INVALID_CONTENT = "invalid_content"  # fix the post; retrying changes nothing
    TRANSIENT = "transient"  # a 5xx or a network error before the request was sent: retry with backoff
    PERMANENT = "permanent"  # anything else the platform refuses for good


class ProviderError(Exception):
    """A classified failure. `maybe_sent`: the request may have reached the platform.

    `message` is for people: it never contains a token or a secret.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.status = status
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        kind, status, retry = self.kind.value, self.status, self.retry_after
        return f"ProviderError({kind!r}, {self.message!r}, status={status}, retry_after={retry})"


# --------------------------------------------------------------------------- data in and out


@dataclass(frozen=True)
class ProviderConfig:
    """Where a platform lives and who we are there. Built from settings by publishing."""

    api_base: str  # e.g. https://api.x.com (or the emulator's /x)
    auth_base: str = ""  # where the user's browser goes to authorize, if different
    client_id: str = ""
    client_secret: str = ""
    timeout: float = 15.0
    extra: dict[str, Any] = field(default_factory=dict)  # platform-specific (API version, …)


@dataclass(frozen=True)
class Media:
    """One image or video to attach. `url` is public and signed; `data` the bytes, for uploads."""

    content_type: str
    size: int
    url: str = ""
    data: bytes | None = None
    alt_text: str = ""
    width: int | None = None
    height: int | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")


@dataclass(frozen=True)
class Variant:
    """What to post to one account: text (hashtags and links included), media, an optional link."""

    text: str
    media: tuple[Media, ...] = ()
    link: str = ""

    def fingerprint(self) -> str:
        """A stable digest of the content, to recognise our own post when listing recent ones."""
        normalised = " ".join(self.text.split())
        return hashlib.sha256(normalised.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ValidationIssue:
    field: str  # "text", "media", "link"
    message: str
    is_blocking: bool = True  # False: a warning the user may ignore


@dataclass(frozen=True)
class ValidationResult:
    length: int  # the text length as the platform counts it
    max_length: int
    issues: tuple[ValidationIssue, ...] = ()

    @property
    def is_valid(self) -> bool:
        return not any(issue.is_blocking for issue in self.issues)


@dataclass(frozen=True)
class Credentials:
    """What a provider needs to act for one connected account. Decrypted tokens: never log this."""

    access_token: str
    account_id: str = ""
    refresh_token: str = ""
    expires_at: datetime | None = None
    config: dict[str, Any] = field(default_factory=dict)  # per-account: instance URL, PDS, page id, …

    def __repr__(self) -> str:  # tokens must never reach a log line or a traceback
        return f"Credentials(account_id={self.account_id!r}, expires_at={self.expires_at!r}, config={self.config!r})"


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str = ""
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"TokenSet(expires_at={self.expires_at!r}, scopes={self.scopes!r})"

    @classmethod
    def from_oauth_response(cls, data: dict[str, Any], *, keep_refresh_token: str = "") -> TokenSet:
        """Read a standard OAuth 2.0 token response (RFC 6749 §5.1)."""
        expires_in = data.get("expires_in")
        expires_at = datetime.now(tz=UTC) + timedelta(seconds=int(expires_in)) if expires_in else None
        scope = data.get("scope") or ""
        scopes = tuple(scope.replace(",", " ").split()) if isinstance(scope, str) else tuple(scope)
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or keep_refresh_token,
            expires_at=expires_at,
            scopes=scopes,
        )


@dataclass(frozen=True)
class AccountProfile:
    """Who the account is on the platform, and the credentials to act for it."""

    account_id: str
    handle: str
    display_name: str = ""
    avatar_url: str = ""
    tokens: TokenSet | None = None  # when the account has its own (a Facebook Page token)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    url: str


@dataclass(frozen=True)
class MetricsSnapshot:
    remote_id: str
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int | None = None  # None: the platform does not report it
    views: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- PKCE and state


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """RFC 7636 §4.1: 43 to 128 characters from the unreserved set."""
    return secrets.token_urlsafe(64)[:96]


def code_challenge_s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --------------------------------------------------------------------------- retry-after parsing


def seconds_until(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a reset or retry hint: delta seconds, Unix seconds, an HTTP date or an ISO 8601 time."""
    if not value:
        return None
    value = value.strip()
    now = now or datetime.now(tz=UTC)
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        # Large numbers are Unix timestamps (X), small ones are deltas (Retry-After, Reddit).
        if number > 10**9:
            return max(0.0, number - now.timestamp())
        return max(0.0, number)
    for parse in (parsedate_to_datetime, datetime.fromisoformat):
        try:
            when = parse(value.replace("Z", "+00:00"))
        except (TypeError, ValueError, IndexError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return None


# --------------------------------------------------------------------------- the provider


class Provider:
    """One platform. Subclasses set the class attributes and implement the methods they support.

    The composer and the scheduler both call `validate`; the engine calls
    `prepare` (save the handle), `publish`, and `lookup` after a crash.
    """

    slug: ClassVar[str]
    display_name: ClassVar[str]
    # "oauth2": browser redirect with state (+ PKCE when `supports_pkce`);
    # "app_password": the user types a handle and an app password (Bluesky).
    auth_kind: ClassVar[str] = "oauth2"
    supports_pkce: ClassVar[bool] = False
    scopes: ClassVar[tuple[str, ...]] = ()
    max_text_length: ClassVar[int] = 0
    max_media: ClassVar[int] = 0
    # Whether `prepare` returns a handle that makes `publish` safe to repeat and `lookup` exact.
    has_idempotency_handle: ClassVar[bool] = False
    # Whether `prepare` only computes its handle locally (no network call), so the engine may
    # prepare and save the handles of a whole batch of targets in one go.
    prepares_locally: ClassVar[bool] = False
    can_revoke: ClassVar[bool] = False
    # Tokens that expire and can be refreshed (Mastodon's never expire; Page tokens are long-lived).
    supports_refresh: ClassVar[bool] = True
    # Whether the platform refuses identical content with a recognisable error.
    reports_duplicates: ClassVar[bool] = True
    # Whether our OAuth app must be registered on each server first (Mastodon instances).
    registers_per_server: ClassVar[bool] = False
    # Whether every post needs an image or a video (Instagram has no text-only posts).
    requires_media: ClassVar[bool] = False
    # Whether apps may delete published posts (Instagram's API cannot).
    can_delete: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    # -- content
    def validate(self, variant: Variant) -> ValidationResult:
        raise NotImplementedError

    # -- connecting
    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        raise NotImplementedError

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> TokenSet:
        raise NotImplementedError

    def fetch_accounts(self, tokens: TokenSet, *, config: dict[str, Any] | None = None) -> list[AccountProfile]:
        """The accounts these tokens may publish to (one, or one per Facebook Page, …)."""
        raise NotImplementedError

    def register_app(self, *, redirect_uri: str, app_name: str, website: str) -> tuple[str, str]:
        """Register our OAuth app on this server (`registers_per_server`); returns (client_id, client_secret)."""
        raise NotImplementedError

    def login(self, *, identifier: str, password: str) -> AccountProfile:
        """Log in with a handle and an app password (`auth_kind == "app_password"`); the profile carries tokens."""
        raise NotImplementedError

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        raise NotImplementedError

    def revoke(self, credentials: Credentials) -> None:
        """Revoke the token on the platform where it allows; a no-op elsewhere."""

    # -- publishing
    def prepare(self, credentials: Credentials, variant: Variant) -> str:
        """Obtain or choose the platform-side handle to save *before* `publish`; "" if there is none."""
        return ""

    def check_prepared(self, credentials: Credentials, handle: str) -> None:
        """Look once at a handle `prepare` just made, ahead of the due time, so that `publish` has less to do then.

        Never raises: whatever is not known here, `publish` finds out itself.
        """

    def publish(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult:
        raise NotImplementedError

    def lookup(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult | None:
        """Find a post we may have made (by its handle, else by content fingerprint); None if it does not exist."""
        raise NotImplementedError

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        raise NotImplementedError

    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        raise NotImplementedError


class HttpProvider(Provider):
    """A provider whose every call goes through `request`: timeouts, classified errors, no token in logs."""

    session_factory = requests.Session

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.http = self.session_factory()
        self.http.headers["User-Agent"] = "LetsGrow/1.0 (+https://letsgrow.app)"
        if not urllib.request.getproxies():
            # No proxy is configured: skip requests' per-call reading of the proxy environment
            # (about a tenth of a publish call's CPU in the delivery engine's profile).
            self.http.trust_env = False

    def request(
        self,
        method: str,
        url: str,
        *,
        credentials: Credentials | None = None,
        token: str = "",
        expected: tuple[int, ...] = (200, 201, 202, 204),
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; return the response if its status is expected, else raise ProviderError."""
        headers = dict(kwargs.pop("headers", None) or {})
        bearer = token or (credentials.access_token if credentials else "")
        if bearer:
            headers.setdefault("Authorization", f"Bearer {bearer}")
        if not url.startswith("http"):
            url = self.config.api_base.rstrip("/") + "/" + url.lstrip("/")
        timeout = kwargs.pop("timeout", self.config.timeout)
        # Errors are raised `from None`: the library's exceptions carry the URL,
        # and some platforms (Meta) put tokens and secrets in the query string.
        failure: ProviderError | None = None
        try:
            response = self.http.request(method, url, headers=headers, timeout=timeout, **kwargs)
        except requests.ConnectTimeout:
            failure = ProviderError(ErrorKind.TRANSIENT, f"{self.display_name} did not accept the connection in time.")
        except requests.ReadTimeout:
            # The request went out; the platform may have acted on it.
            failure = ProviderError(
                ErrorKind.TRANSIENT, f"{self.display_name} did not answer in time.", maybe_sent=method != "GET"
            )
        except requests.ConnectionError as exc:
            sent = _connection_dropped_after_sending(exc)
            message = (
                f"{self.display_name} closed the connection before answering."
                if sent
                else f"Could not reach {self.display_name}."
            )
            failure = ProviderError(ErrorKind.TRANSIENT, message, maybe_sent=sent and method != "GET")
        if failure is not None:
            raise failure
        if response.status_code in expected:
            return response
        raise self.classify(response)

    def classify(self, response: requests.Response) -> ProviderError:
        """Turn an unexpected response into a ProviderError. Platforms override for their error shapes."""
        status = response.status_code
        message = self.error_message(response)
        if status == 429:
            return ProviderError(ErrorKind.RATE_LIMITED, message, retry_after=self.retry_after(response), status=status)
        if status == 401:
            return ProviderError(ErrorKind.AUTH_EXPIRED, message, status=status)
        if status in (400, 413, 415, 422):
            return ProviderError(ErrorKind.INVALID_CONTENT, message, status=status)
        if status == 409:
            return ProviderError(ErrorKind.DUPLICATE, message, status=status)
        if status >= 500:
            return ProviderError(ErrorKind.TRANSIENT, message, retry_after=self.retry_after(response), status=status)
        return ProviderError(ErrorKind.PERMANENT, message, status=status)

    def retry_after(self, response: requests.Response) -> float | None:
        return seconds_until(response.headers.get("Retry-After"))

    def error_message(self, response: requests.Response) -> str:
        """A short, token-free message from the platform's error body."""
        detail = ""
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError):
            body = None
        if isinstance(body, dict):
            for key in ("detail", "error_description", "message", "error", "title"):
                value = body.get(key)
                if isinstance(value, dict):
                    value = value.get("message")
                if isinstance(value, str) and value:
                    detail = value
                    break
        detail = detail or response.reason or "error"
        return f"{self.display_name} answered {response.status_code}: {detail[:300]}"

    def form_url(self, base: str, params: dict[str, str]) -> str:
        return f"{base}?{urlencode(params)}"


def _connection_dropped_after_sending(exc: requests.ConnectionError) -> bool:
    """True when the connection broke after the request was sent (not when it never opened)."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, ProtocolError):
        return True
    text = repr(reason)
    return "RemoteDisconnected" in text or "Connection aborted" in text or "ConnectionResetError" in text
