"""Threads through graph.threads.net (../shared/PLATFORMS.md §5).

- Connecting: authorize at threads.com, `POST /oauth/access_token` gives a 1-hour token which we
  exchange at once for a 60-day one (`th_exchange_token`); `refresh_access_token`
  (`th_refresh_token`) extends it by 60 days once it is 24 h old and still valid, so the engine
  must refresh before it runs out: an expired Threads token cannot be refreshed, only reconnected.
- Publishing is two steps and exactly-once, like Instagram (meta.py): `prepare` creates the
  container (media_type TEXT, IMAGE, VIDEO or CAROUSEL), `publish` waits for FINISHED and calls
  `threads_publish`; `lookup` reads the container's status.
- Length: 500 characters where an emoji counts as its UTF-8 bytes (posts doc: "Emojis are counted
  as the number of UTF-8 bytes"); more than 5 distinct links fails at container creation with
  THREADS_API__LINK_LIMIT_EXCEEDED (text-attachments doc, since 2025-12-22).
- Deleting: `DELETE /{threads-media-id}` with the `threads_delete` permission (delete-posts doc;
  100 deletes per account per day).
- No documented duplicate-content error: `reports_duplicates` is False.

[U] unverified: which characters Threads treats as emoji (we take grapheme clusters holding an
Extended_Pictographic character, VS16, a keycap or regional indicators, erring strict) and that
other characters count one per code point; bare domains counting as links (we know a list of common TLDs); the
insights metric list; the Authorization header being accepted instead of `access_token=`
(graph.facebook.com accepts it); carousels of up to 20 items; 8 MB images, 1 GB videos.
"""

from __future__ import annotations

from typing import Any, ClassVar

import regex

from publishing.providers.base import (
    AccountProfile,
    Credentials,
    ErrorKind,
    Media,
    MetricsSnapshot,
    ProviderError,
    TokenSet,
    ValidationIssue,
    ValidationResult,
    Variant,
)
from publishing.providers.meta import (
    NOT_FOUND,
    GraphError,
    MetaGraphProvider,
    compose_text,
    hashtag_count,
    media_url_problem,
    validation_issue,
)

API_VERSION = "v1.0"
MAX_TEXT = 500
MAX_LINKS = 5
MAX_CAROUSEL = 20  # [U]
MAX_IMAGE_BYTES = 8 * 1024 * 1024  # [U]
MAX_VIDEO_BYTES = 1024 * 1024 * 1024  # [U]
INSIGHT_METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")

# --------------------------------------------------------------------------- counting as Threads does

_GRAPHEME = regex.compile(r"\X")
# A cluster counts as an emoji when it holds a pictograph (Extended_Pictographic: 👍, ☀, also
# ©), VS16, a keycap (U+20E3) or a flag's regional indicators. Which characters Threads itself
# treats as emoji is [U]; counting a bare "©" as its 2 bytes errs on the strict side, so a post
# we pass is not refused at publish time.
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\uFE0F\u20E3]")
_TLDS = (
    "com|net|org|io|co|app|dev|ai|me|info|biz|xyz|gg|tv|us|uk|de|fr|es|it|nl|eu|ca|au|in|jp|br|ru|ch|se|no|fi"
    "|dk|pl|be|at|ly|to|so|news|blog|shop|store|site|online|tech|page|link"
)
_LINK = regex.compile(
    r"(?i)(?<![\w@.-])(?:https?://[^\s<>\"']+|www\.[^\s<>\"']+"
    rf"|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?:/[^\s<>\"']*)?)"
)


def threads_length(text: str) -> int:
    """Threads' length: one per character, except that an emoji counts its UTF-8 bytes (👍 is 4)."""
    total = 0
    for cluster in _GRAPHEME.findall(text):
        total += len(cluster.encode("utf-8")) if _EMOJI.search(cluster) else len(cluster)
    return total


def _link_key(url: str) -> str:
    url = url.rstrip(".,;:!?)]}»\"'")
    lowered = regex.sub(r"(?i)^https?://", "", url)
    lowered = regex.sub(r"(?i)^www\.", "", lowered)
    host, _, rest = lowered.partition("/")
    return f"{host.lower()}/{rest}".rstrip("/")


def threads_links(text: str) -> set[str]:
    """The distinct links Threads counts in a text: URLs, www. addresses and bare domains."""
    return {_link_key(match) for match in _LINK.findall(text)}


class ThreadsProvider(MetaGraphProvider):
    slug = "threads"
    display_name = "Threads"
    auth_kind = "oauth2"
    supports_pkce = False
    # threads_delete: required by DELETE /{threads-media-id} (delete-posts doc).
    scopes = ("threads_basic", "threads_content_publish", "threads_manage_insights", "threads_delete")
    max_text_length = MAX_TEXT
    max_media = MAX_CAROUSEL
    has_idempotency_handle = True
    can_revoke = False
    supports_refresh = True
    reports_duplicates = False
    registers_per_server = False

    publish_edge: ClassVar[str] = "threads_publish"
    media_edge: ClassVar[str] = "threads"
    limit_edge: ClassVar[str] = "threads_publishing_limit"
    text_field: ClassVar[str] = "text"
    status_fields: ClassVar[str] = "status,error_message"
    status_key: ClassVar[str] = "status"
    detail_key: ClassVar[str] = "error_message"

    def version(self) -> str:
        """Threads' API version (graph.threads.net/v1.0)."""
        return API_VERSION

    def base_url(self, path: str) -> str:
        """An unversioned URL: the token endpoints live at the host's root."""
        return f"{self.config.api_base.rstrip('/')}/{path}"

    # -- content
    def validate(self, variant: Variant) -> ValidationResult:
        """Check the length (emoji as UTF-8 bytes), the 5-link limit and the media (one file or a carousel)."""
        text = compose_text(variant)
        length = threads_length(text)
        issues: list[ValidationIssue] = []
        if length > MAX_TEXT:
            issues.append(
                validation_issue(
                    "text", f"Threads posts take at most {MAX_TEXT} characters (an emoji counts as several)."
                )
            )
        if len(threads_links(text)) > MAX_LINKS:
            issues.append(validation_issue("text", f"Threads refuses posts with more than {MAX_LINKS} links."))
        if hashtag_count(text) > 1:
            # Threads turns one hashtag into the post's topic (third-party docs [U]).
            issues.append(
                validation_issue("text", "Threads uses only one hashtag per post as a topic.", blocking=False)
            )
        if not text and not variant.media:
            issues.append(validation_issue("text", "Write something or attach an image or a video."))
        issues.extend(self.media_issues(variant.media))
        return ValidationResult(length=length, max_length=MAX_TEXT, issues=tuple(issues))

    def media_issues(self, media: tuple[Media, ...]) -> list[ValidationIssue]:
        """What is wrong with the files: too many, wrong type, no fetchable URL, size."""
        issues = []
        if len(media) > MAX_CAROUSEL:
            issues.append(validation_issue("media", f"A Threads carousel takes at most {MAX_CAROUSEL} files."))
        for number, item in enumerate(media, start=1):
            label = f"File {number}" if len(media) > 1 else "The file"
            if not (item.is_image or item.is_video):
                issues.append(validation_issue("media", f"{label}: Threads takes images and videos only."))
                continue
            problem = media_url_problem(
                item, platform="Threads", allow_loopback=bool(self.config.extra.get("emulated"))
            )
            if problem:
                issues.append(validation_issue("media", f"{label}: {problem}"))
            if item.is_image and item.size > MAX_IMAGE_BYTES:
                issues.append(validation_issue("media", f"{label}: Threads images must be 8 MB or smaller."))
            if item.is_video and item.size > MAX_VIDEO_BYTES:
                issues.append(validation_issue("media", f"{label}: Threads videos must be 1 GB or smaller."))
        return issues

    def require_publishable(self, variant: Variant) -> None:
        """Refuse media Threads cannot fetch and posts with nothing in them, before any call."""
        blocking = [issue for issue in self.media_issues(variant.media) if issue.is_blocking]
        if not compose_text(variant) and not variant.media:
            blocking.insert(0, validation_issue("text", "Write something or attach an image or a video."))
        if blocking:
            raise ProviderError(ErrorKind.INVALID_CONTENT, blocking[0].message)

    # -- connecting
    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        """The Threads consent page; PKCE is not used (`supports_pkce` is False), so a challenge is ignored."""
        return self.form_url(
            f"{self.config.auth_base.rstrip('/')}/oauth/authorize",
            {
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "scope": ",".join(self.scopes),
                "response_type": "code",
                "state": state,
            },
        )

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> TokenSet:
        """Redeem the code for a 1-hour token, then exchange that for a 60-day token."""
        response = self.secret_call(
            "POST",
            self.base_url("oauth/access_token"),
            data={
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        short_lived = self.json_of(response, "POST").get("access_token")
        if not short_lived:
            raise ProviderError(ErrorKind.PERMANENT, "Threads returned no access token.")
        response = self.secret_call(
            "GET",
            self.base_url("access_token"),
            params={
                "grant_type": "th_exchange_token",
                "client_secret": self.config.client_secret,
                "access_token": str(short_lived),
            },
        )
        return self.token_set(self.json_of(response, "GET"))

    def token_set(self, body: dict[str, Any]) -> TokenSet:
        """Read a long-lived token answer ({access_token, token_type, expires_in})."""
        if not body.get("access_token"):
            raise ProviderError(ErrorKind.AUTH_EXPIRED, "Threads returned no long-lived token.")
        return TokenSet.from_oauth_response(body)

    def fetch_accounts(self, tokens: TokenSet, *, config: dict[str, Any] | None = None) -> list[AccountProfile]:
        """The one Threads profile the token belongs to."""
        body = self.graph(
            "GET",
            "me",
            Credentials(access_token=tokens.access_token),
            params={"fields": "id,username,name,threads_profile_picture_url"},
        )
        username = str(body.get("username") or "")
        return [
            AccountProfile(
                account_id=str(body["id"]),
                handle=username,
                display_name=str(body.get("name") or username),
                avatar_url=str(body.get("threads_profile_picture_url") or ""),
                config={"username": username},
            )
        ]

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        """Extend the 60-day token by another 60 days; a refusal means reconnecting (AUTH_EXPIRED)."""
        try:
            response = self.secret_call(
                "GET",
                self.base_url("refresh_access_token"),
                params={"grant_type": "th_refresh_token", "access_token": credentials.access_token},
            )
        except ProviderError as exc:
            if exc.kind in (ErrorKind.INVALID_CONTENT, ErrorKind.PERMANENT):
                raise ProviderError(ErrorKind.AUTH_EXPIRED, exc.message, status=exc.status) from None
            raise
        return self.token_set(self.json_of(response, "GET"))

    # -- publishing
    def prepare(self, credentials: Credentials, variant: Variant) -> str:
        """Create the container (a carousel's children first) and return its id: the handle to save."""
        self.require_publishable(variant)
        text = compose_text(variant)
        if not variant.media:
            return self.create_container(credentials, {"media_type": "TEXT", "text": text})
        if len(variant.media) == 1:
            return self.create_container(credentials, {**self.media_params(variant.media[0]), "text": text})
        children = [
            self.create_container(credentials, {**self.media_params(item), "is_carousel_item": "true"})
            for item in variant.media
        ]
        for child in children:  # the parent may only name finished children
            self.wait_for_container(credentials, child)
        return self.create_container(
            credentials, {"media_type": "CAROUSEL", "children": ",".join(children), "text": text}
        )

    def media_params(self, media: Media) -> dict[str, str]:
        """The container parameters that name one file."""
        if media.is_video:
            return {"media_type": "VIDEO", "video_url": media.url, "alt_text": media.alt_text}
        return {"media_type": "IMAGE", "image_url": media.url, "alt_text": media.alt_text}

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        """Delete a published post (`DELETE /{threads-media-id}`, needs threads_delete).

        A post Threads no longer knows counts as deleted, so repeating a delete whose answer
        was lost succeeds.
        """
        try:
            body = self.graph("DELETE", remote_id, credentials)
        except GraphError as exc:
            if (exc.code, exc.subcode) == NOT_FOUND:
                return
            raise
        if body.get("success") is not True:
            raise ProviderError(ErrorKind.PERMANENT, "Threads did not confirm the deletion.")

    def fallback_url(self, credentials: Credentials) -> str:
        """The account's profile URL."""
        username = str(credentials.config.get("username") or "")
        return f"https://www.threads.com/@{username}" if username else "https://www.threads.com/"

    # -- metrics
    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        """Lifetime insights per post; a post Threads will not report on (deleted) is left out."""
        snapshots = []
        for media_id in remote_ids:
            try:
                values = self.insights(credentials, media_id, INSIGHT_METRICS)
            except GraphError as exc:
                if exc.kind in (ErrorKind.INVALID_CONTENT, ErrorKind.PERMANENT):
                    continue
                raise
            snapshots.append(
                MetricsSnapshot(
                    remote_id=media_id,
                    likes=values.get("likes", 0),
                    replies=values.get("replies", 0),
                    reposts=values.get("reposts", 0),
                    quotes=values.get("quotes", 0),
                    impressions=None,
                    views=values.get("views"),
                    extra={"shares": values["shares"]} if "shares" in values else {},
                )
            )
        return snapshots
