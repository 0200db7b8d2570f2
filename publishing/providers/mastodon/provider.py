"""Mastodon, on any instance: per-server app registration, OAuth 2.0 with PKCE, statuses with an Idempotency-Key.

Sources: ../shared/PLATFORMS.md §10 and the OpenAPI 3.1 spec ../shared/specs/mastodon.openapi.json (Mastodon 4.7).

Every instance is its own server with its own limits, so this provider is built per instance
(`publishing.platforms.provider_for("mastodon", server=host, client_id=…, client_secret=…)`) and reads
the limits from `GET /api/v2/instance`, cached per instance.

Unverified **[U]**:
- PKCE S256 since Mastodon 4.3. Older servers ignore `code_challenge`; the flow still works because the
  token request also carries the client secret.
- `GET /api/v1/statuses?id[]=` (4.3+) takes at most 20 ids a call; older servers answer 404 and we read
  each status on its own.
- The length rule follows Mastodon's StatusLengthValidator: grapheme clusters, every http(s) URL counts as
  `characters_reserved_per_url`, a mention `@user@domain` counts as `@user`. Our URL and mention patterns
  approximate its twitter-text extractor.
- Re-sending an Idempotency-Key whose status has since been deleted answers 404 (the server keeps the key
  but cannot find the status).
- While media is processing, `GET /api/v1/media/{id}` answers 206; 200 once `url` is set.

Crash recovery (`lookup`): the Idempotency-Key makes `publish` safe to repeat, but re-POSTing it cannot
serve as a lookup, because a key the server never saw creates a post. So `lookup` only reads: it lists the
account's recent statuses (`GET /api/v1/accounts/{id}/statuses`) and matches the text and the media count.
The handle `prepare` returns carries its creation time, so `lookup` ignores statuses made before it
(an older post with the same text is not ours to claim).
"""

from __future__ import annotations

import mimetypes
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import urlsplit

import regex
import requests

from publishing.providers.base import (
    AccountProfile,
    Credentials,
    ErrorKind,
    HttpProvider,
    Media,
    MetricsSnapshot,
    ProviderError,
    PublishResult,
    TokenSet,
    ValidationIssue,
    ValidationResult,
    Variant,
    seconds_until,
)

# --------------------------------------------------------------------------- instance limits


@dataclass(frozen=True)
class InstanceLimits:
    """What one server allows, from its Instance entity (`configuration.statuses`, `configuration.media_attachments`).

    The defaults are stock Mastodon's, used when the server does not say (or cannot be reached).
    """

    max_characters: int = 500
    characters_reserved_per_url: int = 23
    max_media_attachments: int = 4
    supported_mime_types: tuple[str, ...] = (
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/webp",
        "image/avif",
        "video/webm",
        "video/mp4",
        "video/quicktime",
        "video/ogg",
        "audio/wave",
        "audio/wav",
        "audio/x-wav",
        "audio/x-pn-wave",
        "audio/vnd.wave",
        "audio/ogg",
        "audio/vorbis",
        "audio/mpeg",
        "audio/mp3",
        "audio/webm",
        "audio/flac",
        "audio/aac",
        "audio/m4a",
        "audio/x-m4a",
        "audio/mp4",
        "audio/3gpp",
        "video/x-ms-asf",
    )
    image_size_limit: int = 16 * 1024 * 1024
    video_size_limit: int = 99 * 1024 * 1024
    description_limit: int = 1500
    domain: str = ""
    is_default: bool = True  # True: the server's own limits could not be read

    @classmethod
    def from_instance(cls, data: dict[str, Any]) -> InstanceLimits:
        """Read an Instance entity (v2); missing values keep Mastodon's defaults."""
        defaults = cls()
        configuration = data.get("configuration") or {}
        statuses = configuration.get("statuses") or {}
        media = configuration.get("media_attachments") or {}

        def number(section: dict[str, Any], key: str, default: int) -> int:
            value = section.get(key)
            return value if isinstance(value, int) and value > 0 else default

        mime_types = media.get("supported_mime_types")
        return cls(
            max_characters=number(statuses, "max_characters", defaults.max_characters),
            characters_reserved_per_url=number(
                statuses, "characters_reserved_per_url", defaults.characters_reserved_per_url
            ),
            max_media_attachments=number(statuses, "max_media_attachments", defaults.max_media_attachments),
            supported_mime_types=tuple(mime_types) if mime_types else defaults.supported_mime_types,
            image_size_limit=number(media, "image_size_limit", defaults.image_size_limit),
            video_size_limit=number(media, "video_size_limit", defaults.video_size_limit),
            description_limit=number(media, "description_limit", defaults.description_limit),
            domain=str(data.get("domain") or ""),
            is_default=False,
        )


# api_base → (valid until, limits). Module-level so every provider built for the same server shares it:
# publishing builds a provider per call, and validate() runs on every composer keystroke.
_LIMITS_CACHE: dict[str, tuple[float, InstanceLimits]] = {}
_LIMITS_LOCK = threading.Lock()
LIMITS_TTL_SECONDS = 3600.0
# A server that did not answer is asked again soon, not on every validate().
LIMITS_RETRY_SECONDS = 300.0


def forget_instance_limits() -> None:
    """Drop every cached instance's limits (tests; an admin who knows a server changed its limits)."""
    with _LIMITS_LOCK:
        _LIMITS_CACHE.clear()


# --------------------------------------------------------------------------- counting as Mastodon does

# Mastodon only gives URLs the 23-character concession when they carry their scheme.
_URL_RE = re.compile(r"(?<![\w/@.])https?://[^\s<>\"']+", re.IGNORECASE)
# Account::MENTION_RE: only the `@user` part of `@user@domain` counts.
_MENTION_RE = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?", re.IGNORECASE)
_GRAPHEME_RE = regex.compile(r"\X")
_TRAILING_PUNCTUATION = ".,:;!?'\""


def _trim_url(url: str) -> str:
    """Drop the sentence punctuation and unbalanced closing brackets a URL match swallowed."""
    while url:
        if url[-1] in _TRAILING_PUNCTUATION or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def _short_mentions(text: str) -> str:
    return _MENTION_RE.sub(lambda match: "@" + match.group(1), text)


def status_length(text: str, *, chars_per_url: int = 23) -> int:
    """Count `text` as Mastodon does: grapheme clusters, URLs as `chars_per_url`, `@user@domain` as `@user`."""
    pieces: list[str] = []
    position = 0
    for match in _URL_RE.finditer(text):
        if match.start() < position:
            continue
        url = _trim_url(match.group())
        pieces.append(_short_mentions(text[position : match.start()]))
        pieces.append("x" * chars_per_url)
        position = match.start() + len(url)
    pieces.append(_short_mentions(text[position:]))
    return len(_GRAPHEME_RE.findall("".join(pieces)))


class _PlainText(HTMLParser):
    """A status's HTML `content` back to text: paragraphs and line breaks become spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _comparable(text: str) -> str:
    """The form in which our text and a status's rendered content compare equal.

    Mastodon renders `@user@domain` as `@user` and turns newlines into markup, so both sides drop mention
    domains and collapse whitespace.
    """
    return " ".join(_short_mentions(text).split())


def _status_plain_text(status: dict[str, Any]) -> str:
    if isinstance(status.get("text"), str):  # present on delete responses and on some servers
        return status["text"]
    parser = _PlainText()
    parser.feed(status.get("content") or "")
    parser.close()
    return "".join(parser.parts)


# --------------------------------------------------------------------------- the provider

_HANDLE_RE = re.compile(r"^lg-(\d{10})-[0-9a-f]{32}$")
_OAUTH_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


class MastodonProvider(HttpProvider):
    """Mastodon statuses on one instance (the provider's `api_base`)."""

    prepares_locally = True  # the Idempotency-Key is made here
    slug = "mastodon"
    display_name = "Mastodon"
    auth_kind = "oauth2"
    supports_pkce = True
    scopes = ("read:accounts", "write:statuses", "write:media", "read:statuses")
    max_text_length = 500  # stock Mastodon; each server may allow more (InstanceLimits)
    max_media = 4
    has_idempotency_handle = True
    can_revoke = True
    supports_refresh = False  # tokens never expire and come without a refresh token
    reports_duplicates = False  # Mastodon has no duplicate-content refusal
    registers_per_server = True

    # Seconds between polls while the server processes an upload (video is asynchronous). Bounded, so a
    # worker waits at most about half a minute before giving the publish back to the retry schedule.
    media_poll_delays: ClassVar[tuple[float, ...]] = (0.5, 1, 1, 2, 2, 4, 4, 8, 8)
    # A status listing page is at most 40 statuses; lookup reads a few pages back to the handle's time.
    lookup_pages: ClassVar[int] = 5
    # Clock skew we allow between our handle's timestamp and the server's created_at.
    lookup_skew: ClassVar[timedelta] = timedelta(minutes=5)
    metrics_batch_size: ClassVar[int] = 20
    default_visibility: ClassVar[str] = "public"

    # -- content

    def instance_limits(self) -> InstanceLimits:
        """Return this server's limits from `GET /api/v2/instance`, cached per server; defaults if unreachable."""
        key = self.config.api_base.rstrip("/")
        with _LIMITS_LOCK:
            cached = _LIMITS_CACHE.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = self.request("GET", "/api/v2/instance", expected=(200,))
            limits = InstanceLimits.from_instance(response.json())
            ttl = LIMITS_TTL_SECONDS
        except (ProviderError, ValueError, AttributeError):
            limits, ttl = InstanceLimits(), LIMITS_RETRY_SECONDS
        with _LIMITS_LOCK:
            _LIMITS_CACHE[key] = (time.monotonic() + ttl, limits)
        return limits

    def validate(self, variant: Variant) -> ValidationResult:
        """Check text length and media against this server's limits.

        Length as Mastodon counts it (status_length); media count, types, sizes and alt-text length from the
        instance. A missing alt text is a warning; limits that could not be read are a warning too.
        """
        limits = self.instance_limits()
        text = self.status_text(variant)
        length = status_length(text, chars_per_url=limits.characters_reserved_per_url)
        issues: list[ValidationIssue] = []
        if not text.strip() and not variant.media:
            issues.append(ValidationIssue("text", "A Mastodon post needs text or media."))
        if length > limits.max_characters:
            issues.append(ValidationIssue("text", f"{length} characters: this server allows {limits.max_characters}."))
        issues.extend(self._media_issues(variant, limits))
        if limits.is_default:
            issues.append(
                ValidationIssue(
                    "text", "Could not read this server's limits; checked against Mastodon's defaults.", False
                )
            )
        return ValidationResult(length=length, max_length=limits.max_characters, issues=tuple(issues))

    def _media_issues(self, variant: Variant, limits: InstanceLimits) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        media = variant.media
        if len(media) > limits.max_media_attachments:
            issues.append(
                ValidationIssue(
                    "media", f"{len(media)} attachments: this server allows {limits.max_media_attachments}."
                )
            )
        # PostStatusService refuses a video or audio file next to anything else.
        if len(media) > 1 and any(not item.is_image for item in media):
            issues.append(ValidationIssue("media", "A video or audio file must be the only attachment."))
        for number, item in enumerate(media, start=1):
            if item.content_type not in limits.supported_mime_types:
                issues.append(ValidationIssue("media", f"Attachment {number}: {item.content_type} is not supported."))
            size_limit = limits.image_size_limit if item.is_image else limits.video_size_limit
            if item.size > size_limit:
                issues.append(
                    ValidationIssue(
                        "media",
                        f"Attachment {number} is {_megabytes(item.size)}; the limit is {_megabytes(size_limit)}.",
                    )
                )
            if item.data is None and not item.url:
                issues.append(ValidationIssue("media", f"Attachment {number} has no content."))
            if len(item.alt_text) > limits.description_limit:
                issues.append(
                    ValidationIssue(
                        "media", f"Attachment {number}: the description is longer than {limits.description_limit}."
                    )
                )
            elif not item.alt_text:
                issues.append(ValidationIssue("media", f"Attachment {number} has no description (alt text).", False))
        return issues

    @staticmethod
    def status_text(variant: Variant) -> str:
        """Return the status text: a status has no separate link field, so a link not yet in the text ends it."""
        text = variant.text.strip()
        if variant.link and variant.link not in text:
            text = f"{text}\n\n{variant.link}" if text else variant.link
        return text

    # -- connecting

    def register_app(self, *, redirect_uri: str, app_name: str, website: str) -> tuple[str, str]:
        """Register our OAuth app on this server (`POST /api/v1/apps`); return (client_id, client_secret)."""
        body: dict[str, Any] = {
            "client_name": app_name,
            "redirect_uris": [redirect_uri],
            "scopes": " ".join(self.scopes),
        }
        if website:
            body["website"] = website
        data = self.request("POST", "/api/v1/apps", json=body, expected=(200,)).json()
        return str(data["client_id"]), str(data["client_secret"])

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        """Return the server's consent page URL, with `state` and, when given, the S256 PKCE challenge.

        `force_login` makes the server ask who signs in, so connecting a second account of the same
        server does not silently authorize whoever is logged in in that browser.
        """
        params = {
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(self.scopes),
            "state": state,
            "force_login": "true",
        }
        if code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"  # the only method Mastodon supports
        base = (self.config.auth_base or self.config.api_base).rstrip("/")
        return self.form_url(f"{base}/oauth/authorize", params)

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> TokenSet:
        """Trade the authorization code for a token (`POST /oauth/token`); the token never expires."""
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
        }
        if code_verifier:
            body["code_verifier"] = code_verifier
        data = self.request("POST", "/oauth/token", json=body, expected=(200,)).json()
        return TokenSet.from_oauth_response(data)

    def fetch_accounts(self, tokens: TokenSet, *, config: dict[str, Any] | None = None) -> list[AccountProfile]:
        """Return the one account the token acts for (`GET /api/v1/accounts/verify_credentials`).

        The profile's config names the server (`instance`), which publishing needs to build this provider again.
        """
        account = self.request(
            "GET", "/api/v1/accounts/verify_credentials", token=tokens.access_token, expected=(200,)
        ).json()
        instance = self.server_host()
        return [
            AccountProfile(
                account_id=str(account["id"]),
                handle=f"@{account.get('username') or account.get('acct')}@{instance}",
                display_name=account.get("display_name") or account.get("username") or "",
                avatar_url=account.get("avatar") or "",
                tokens=tokens,
                config={"instance": instance, **(config or {})},
            )
        ]

    def server_host(self) -> str:
        """Return the server's host name: the api_base's host, or its last path segment behind the emulator."""
        parts = urlsplit(self.config.api_base.rstrip("/"))
        if parts.path.strip("/"):  # the emulator serves each instance under /mastodon/<host>
            return parts.path.rstrip("/").rsplit("/", 1)[-1]
        return parts.netloc

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        """Refuse: Mastodon tokens never expire and have no refresh token, so a 401 means reconnecting."""
        raise ProviderError(ErrorKind.AUTH_EXPIRED, "Mastodon tokens cannot be refreshed; reconnect the account.")

    def revoke(self, credentials: Credentials) -> None:
        """Revoke the token on the server (`POST /oauth/revoke`, with our app's client credentials)."""
        body = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "token": credentials.access_token,
        }
        self.request("POST", "/oauth/revoke", json=body, expected=(200,))

    # -- publishing

    def prepare(self, credentials: Credentials, variant: Variant) -> str:
        """Choose the Idempotency-Key for this post: `lg-<unix seconds>-<uuid>`, no call to the server.

        The server keeps a key for an hour and answers a repeat with the original status. The timestamp
        lets `lookup` ignore statuses older than the attempt.
        """
        return f"lg-{int(time.time())}-{uuid.uuid4().hex}"

    def publish(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult:
        """Upload the media, then post the status with `handle` as its Idempotency-Key.

        Repeating with the same handle inside an hour returns the first status, never a second one. Media
        uploaded by a repeat is left unattached; the server deletes unattached media after a day.
        """
        media_ids = [self._upload(credentials, item) for item in variant.media]
        body: dict[str, Any] = {"visibility": credentials.config.get("visibility") or self.default_visibility}
        text = self.status_text(variant)
        if text:
            body["status"] = text
        if media_ids:  # an empty media_ids would make the body match both TextStatus and MediaStatus
            body["media_ids"] = media_ids
        headers = {"Idempotency-Key": handle} if handle else {}
        status = self.request(
            "POST", "/api/v1/statuses", credentials=credentials, json=body, headers=headers, expected=(200,)
        ).json()
        return self._result(status)

    def _upload(self, credentials: Credentials, item: Media) -> str:
        """Upload one file (`POST /api/v2/media`) and wait, bounded, until the server has processed it."""
        data = item.data if item.data is not None else self._download(item.url)
        extension = mimetypes.guess_extension(item.content_type) or ""
        files = {"file": (f"upload{extension}", data, item.content_type)}
        form = {"description": item.alt_text} if item.alt_text else {}
        response = self.request(
            "POST", "/api/v2/media", credentials=credentials, files=files, data=form, expected=(200, 202)
        )
        attachment = response.json()
        media_id = str(attachment["id"])
        if response.status_code == 200 and attachment.get("url"):
            return media_id
        # 202: video, gifv and audio are processed in the background; the status refuses them until done.
        for delay in self.media_poll_delays:
            time.sleep(delay)
            polled = self.request("GET", f"/api/v1/media/{media_id}", credentials=credentials, expected=(200, 206))
            if polled.status_code == 200 and polled.json().get("url"):
                return media_id
        raise ProviderError(ErrorKind.TRANSIENT, "Mastodon is still processing the media; try again shortly.")

    def _download(self, url: str) -> bytes:
        """Fetch a media file from its public URL, for media that arrived without its bytes."""
        try:
            response = self.http.get(url, timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise ProviderError(ErrorKind.TRANSIENT, "Could not fetch the media file to upload.") from exc
        if response.status_code != 200:
            raise ProviderError(
                ErrorKind.TRANSIENT, f"Could not fetch the media file to upload ({response.status_code})."
            )
        return response.content

    def lookup(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult | None:
        """Find the status a lost publish may have made, reading only; None if there is none.

        Lists the account's statuses newest first, back to the handle's time (less the allowed clock skew),
        and returns the oldest one whose text and media count match. Never re-POSTs: an Idempotency-Key the
        server never saw would create the post.
        """
        account_id = credentials.account_id or self._own_account_id(credentials)
        since = _handle_time(handle)
        if since is not None:
            since -= self.lookup_skew
        wanted = _comparable(self.status_text(variant))
        found: dict[str, Any] | None = None
        params: dict[str, Any] = {"limit": 40, "exclude_reblogs": "true"}
        for _ in range(self.lookup_pages):
            page = self.request(
                "GET",
                f"/api/v1/accounts/{account_id}/statuses",
                credentials=credentials,
                params=params,
                expected=(200,),
            ).json()
            for status in page:
                created = _parse_time(status.get("created_at"))
                if since is not None and created is not None and created < since:
                    return self._result(found) if found else None
                if _comparable(_status_plain_text(status)) == wanted and len(
                    status.get("media_attachments") or []
                ) == len(variant.media):
                    found = status  # keep going: the oldest match after `since` is the first attempt
            if len(page) < params["limit"] or since is None:  # the last page, or no time to page back to
                break
            params = {**params, "max_id": page[-1]["id"]}
        return self._result(found) if found else None

    def _own_account_id(self, credentials: Credentials) -> str:
        account = self.request("GET", "/api/v1/accounts/verify_credentials", credentials=credentials).json()
        return str(account["id"])

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        """Delete a status (`DELETE /api/v1/statuses/{id}`); a status already gone counts as deleted."""
        self.request("DELETE", f"/api/v1/statuses/{remote_id}", credentials=credentials, expected=(200, 404))

    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        """Read the counts of each status (`GET /api/v1/statuses?id[]=…`, 20 a call); deleted ones are left out.

        Mastodon reports favourites, boosts, replies and quotes, never impressions or views.
        """
        statuses: list[dict[str, Any]] = []
        ids = list(dict.fromkeys(str(remote_id) for remote_id in remote_ids))
        for start in range(0, len(ids), self.metrics_batch_size):
            batch = ids[start : start + self.metrics_batch_size]
            response = self.request(
                "GET",
                "/api/v1/statuses",
                credentials=credentials,
                params=[("id[]", remote_id) for remote_id in batch],
                expected=(200, 404),
            )
            if response.status_code == 200:
                statuses.extend(response.json())
                continue
            # A server older than 4.3 has no multi-get: read each status.
            for remote_id in batch:
                single = self.request(
                    "GET", f"/api/v1/statuses/{remote_id}", credentials=credentials, expected=(200, 404)
                )
                if single.status_code == 200:
                    statuses.append(single.json())
        return [
            MetricsSnapshot(
                remote_id=str(status["id"]),
                likes=int(status.get("favourites_count") or 0),
                reposts=int(status.get("reblogs_count") or 0),
                replies=int(status.get("replies_count") or 0),
                quotes=int(status.get("quotes_count") or 0),
            )
            for status in statuses
            if str(status.get("id")) in ids
        ]

    @staticmethod
    def _result(status: dict[str, Any]) -> PublishResult:
        return PublishResult(remote_id=str(status["id"]), url=status.get("url") or status.get("uri") or "")

    # -- errors

    def classify(self, response: requests.Response) -> ProviderError:
        """Read Mastodon's `{"error": …}` answers.

        OAuth refusals (invalid_grant, invalid_client) and a token lacking a scope mean reconnecting
        (AUTH_EXPIRED); a 422 about media still processing is TRANSIENT; the rest as HttpProvider does.
        """
        error = super().classify(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        code = body.get("error") if isinstance(body, dict) else None
        if code in _OAUTH_ERRORS or (
            response.status_code == 403 and isinstance(code, str) and "outside the authorized scopes" in code
        ):
            return ProviderError(ErrorKind.AUTH_EXPIRED, error.message, status=error.status)
        if response.status_code == 422 and "finished processing" in error.message:
            return ProviderError(ErrorKind.TRANSIENT, error.message, status=error.status, retry_after=5.0)
        return error

    def retry_after(self, response: requests.Response) -> float | None:
        """Read the wait: on a 429 the ISO 8601 `X-RateLimit-Reset`, otherwise (and as a fallback) `Retry-After`."""
        if response.status_code == 429:
            reset = seconds_until(response.headers.get("X-RateLimit-Reset"))
            if reset is not None:
                return reset
        return seconds_until(response.headers.get("Retry-After"))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _handle_time(handle: str) -> datetime | None:
    match = _HANDLE_RE.match(handle or "")
    return datetime.fromtimestamp(int(match.group(1)), tz=UTC) if match else None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
