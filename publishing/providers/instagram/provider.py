"""Instagram through the Graph API with Facebook Login for Business (../shared/PLATFORMS.md §4).

- Connecting: Facebook Login (`/{v}/dialog/oauth`), the code becomes a short-lived user token
  and at once a long-lived one (about 60 days, `fb_exchange_token`). `GET /me/accounts` lists the
  user's Pages; each Page with an `instagram_business_account` is one account we can publish to.
  Instagram calls use the user token; no Page token is needed.
- Publishing is two steps and exactly-once: `prepare` creates the container (its id is the
  handle), `publish` waits for it to be FINISHED and calls `media_publish` (meta.py).
- Instagram has no text-only post: `validate` blocks a variant without an image or a video and
  `prepare`/`publish` refuse it with INVALID_CONTENT before any call.
- Meta cURLs media from `Media.url`, so each file needs a public URL (the emulator fetches
  loopback URLs only and answers 9004/2207052 otherwise, like Meta).
- Deleting: the Instagram API has no delete for published media [U], so `delete` refuses with
  PERMANENT and the person deletes the post in the app.

[U] unverified: caption length counted in code points; 5 hashtags (2026 third-party docs, Meta
said 30); no documented duplicate-content error, so `reports_duplicates` is False (a 506, should
one come, is still DUPLICATE); fb_exchange_token on a long-lived token extends it; video and
resumable uploads (we use `video_url`, not `upload_type=resumable`).
"""

from __future__ import annotations

from typing import Any, ClassVar

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
    GraphError,
    MetaGraphProvider,
    compose_text,
    hashtag_count,
    media_url_problem,
    validation_issue,
)

DEFAULT_GRAPH_VERSION = "v24.0"
MAX_CAPTION = 2200
MAX_HASHTAGS = 5  # [U] 2026 third-party docs; Meta used to say 30
MAX_CAROUSEL = 10
MAX_IMAGE_BYTES = 8 * 1024 * 1024  # JPEG ≤ 8 MiB (error 36000/2207004 above it)
MIN_ASPECT, MAX_ASPECT = 4 / 5, 1.91
INSIGHT_METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")
NEEDS_MEDIA = "Instagram needs an image or a video."


class InstagramProvider(MetaGraphProvider):
    slug = "instagram"
    display_name = "Instagram"
    auth_kind = "oauth2"
    supports_pkce = False
    scopes = (
        "instagram_basic",
        "instagram_content_publish",
        "instagram_manage_insights",
        "pages_show_list",
        "pages_read_engagement",
    )
    max_text_length = MAX_CAPTION
    # No text-only posts on Instagram, and no API to delete a published one [U].
    requires_media = True
    can_delete = False
    max_media = MAX_CAROUSEL
    has_idempotency_handle = True
    can_revoke = False
    supports_refresh = True
    reports_duplicates = False
    registers_per_server = False

    publish_edge: ClassVar[str] = "media_publish"
    media_edge: ClassVar[str] = "media"
    limit_edge: ClassVar[str] = "content_publishing_limit"
    text_field: ClassVar[str] = "caption"
    status_fields: ClassVar[str] = "status_code,status"
    status_key: ClassVar[str] = "status_code"
    detail_key: ClassVar[str] = "status"

    def version(self) -> str:
        """The Graph API version from the configuration (settings.META_GRAPH_VERSION)."""
        return str(self.config.extra.get("graph_version") or DEFAULT_GRAPH_VERSION)

    # -- content
    def validate(self, variant: Variant) -> ValidationResult:
        """Check the caption (2,200 characters, hashtags), the media (1 image/video or a carousel of ≤ 10)."""
        caption = compose_text(variant)
        issues: list[ValidationIssue] = []
        if len(caption) > MAX_CAPTION:
            issues.append(validation_issue("text", f"Instagram captions take at most {MAX_CAPTION} characters."))
        if hashtag_count(caption) > MAX_HASHTAGS:
            issues.append(
                validation_issue(
                    "text", f"Instagram may refuse more than {MAX_HASHTAGS} hashtags in a post.", blocking=False
                )
            )
        if variant.link and variant.link not in variant.text:
            issues.append(validation_issue("link", "Links in Instagram captions are not clickable.", blocking=False))
        issues.extend(self.media_issues(variant.media))
        return ValidationResult(length=len(caption), max_length=MAX_CAPTION, issues=tuple(issues))

    def media_issues(self, media: tuple[Media, ...]) -> list[ValidationIssue]:
        """What is wrong with the files: none, too many, wrong type, no fetchable URL, size, JPEG, aspect."""
        if not media:
            return [validation_issue("media", NEEDS_MEDIA)]
        issues = []
        if len(media) > MAX_CAROUSEL:
            issues.append(validation_issue("media", f"An Instagram carousel takes at most {MAX_CAROUSEL} files."))
        for number, item in enumerate(media, start=1):
            label = f"File {number}" if len(media) > 1 else "The file"
            if not (item.is_image or item.is_video):
                issues.append(validation_issue("media", f"{label}: Instagram takes images and videos only."))
                continue
            problem = media_url_problem(item, platform="Instagram", allow_loopback=self.allows_loopback)
            if problem:
                issues.append(validation_issue("media", f"{label}: {problem}"))
            if item.is_image:
                if item.size > MAX_IMAGE_BYTES:
                    issues.append(validation_issue("media", f"{label}: Instagram images must be 8 MB or smaller."))
                if item.content_type != "image/jpeg":
                    issues.append(
                        validation_issue(
                            "media", f"{label}: Instagram officially supports JPEG images only.", blocking=False
                        )
                    )
                if item.width and item.height and not MIN_ASPECT <= item.width / item.height <= MAX_ASPECT:
                    issues.append(
                        validation_issue(
                            "media",
                            f"{label}: Instagram expects an aspect ratio between 4:5 and 1.91:1.",
                            blocking=False,
                        )
                    )
        return issues

    @property
    def allows_loopback(self) -> bool:
        """Whether media may live on this machine."""
        # Only the local emulator can fetch files from this machine.
        return bool(self.config.extra.get("emulated"))

    def require_publishable(self, variant: Variant) -> None:
        """Refuse a text-only variant and media without a fetchable URL: Instagram would refuse them."""
        blocking = [issue for issue in self.media_issues(variant.media) if issue.is_blocking]
        if blocking:
            raise ProviderError(ErrorKind.INVALID_CONTENT, blocking[0].message)

    # -- connecting
    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        """The Facebook Login dialog; PKCE is not used (`supports_pkce` is False), so a challenge is ignored."""
        return self.form_url(
            f"{self.config.auth_base.rstrip('/')}/{self.version()}/dialog/oauth",
            {
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": ",".join(self.scopes),
                "response_type": "code",
            },
        )

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> TokenSet:
        """Redeem the code for a short-lived user token, then extend it to a long-lived one (~60 days)."""
        response = self.secret_call(
            "GET",
            self.graph_url("oauth/access_token"),
            params={
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        short_lived = self.json_of(response, "GET").get("access_token")
        if not short_lived:
            raise ProviderError(ErrorKind.PERMANENT, "Facebook Login returned no access token.")
        return self.extend(str(short_lived))

    def extend(self, token: str) -> TokenSet:
        """Exchange a user token for a long-lived one (`grant_type=fb_exchange_token`)."""
        response = self.secret_call(
            "GET",
            self.graph_url("oauth/access_token"),
            params={
                "grant_type": "fb_exchange_token",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "fb_exchange_token": token,
            },
        )
        body = self.json_of(response, "GET")
        if not body.get("access_token"):
            raise ProviderError(ErrorKind.AUTH_EXPIRED, "Facebook returned no long-lived token.")
        return TokenSet.from_oauth_response(body)

    def fetch_accounts(self, tokens: TokenSet, *, config: dict[str, Any] | None = None) -> list[AccountProfile]:
        """One profile per Instagram professional account linked to one of the user's Pages."""
        credentials = Credentials(access_token=tokens.access_token)
        profiles: list[AccountProfile] = []
        params = {
            "fields": "id,name,instagram_business_account{id,username,profile_picture_url,name}",
            "limit": "100",
        }
        for _ in range(20):  # pages of Pages; a bound against a paging loop
            body = self.graph("GET", "me/accounts", credentials, params=params)
            for page in body.get("data") or []:
                account = page.get("instagram_business_account") or {}
                if not account.get("id"):
                    continue  # a Page without a linked Instagram professional account
                username = str(account.get("username") or "")
                profiles.append(
                    AccountProfile(
                        account_id=str(account["id"]),
                        handle=username,
                        display_name=str(account.get("name") or username),
                        avatar_url=str(account.get("profile_picture_url") or ""),
                        config={
                            "username": username,
                            "page_id": str(page.get("id") or ""),
                            "page_name": page.get("name"),
                        },
                    )
                )
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not (paging.get("next") and after):
                break
            params = {**params, "after": str(after)}
        return profiles

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        """Extend the long-lived user token again; a refusal means the account must reconnect (AUTH_EXPIRED)."""
        try:
            return self.extend(credentials.access_token)
        except ProviderError as exc:
            if exc.kind in (ErrorKind.INVALID_CONTENT, ErrorKind.PERMANENT):
                raise ProviderError(
                    ErrorKind.AUTH_EXPIRED, exc.message, status=exc.status
                ) from None  # the refusal's cause may quote the token URL
            raise

    # -- publishing
    def prepare(self, credentials: Credentials, variant: Variant) -> str:
        """Create the media container (a carousel's children first) and return its id: the handle to save."""
        self.require_publishable(variant)
        caption = compose_text(variant)
        if len(variant.media) == 1:
            return self.create_container(credentials, {**self.media_params(variant.media[0]), "caption": caption})
        children = [
            self.create_container(
                credentials, {**self.media_params(item, in_carousel=True), "is_carousel_item": "true"}
            )
            for item in variant.media
        ]
        # The parent may only name children that finished processing.
        for child in children:
            self.wait_for_container(credentials, child)
        return self.create_container(
            credentials, {"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption}
        )

    def media_params(self, media: Media, *, in_carousel: bool = False) -> dict[str, str]:
        """The container parameters that name one file."""
        if media.is_video:
            # A single video is published as a Reel; a video inside a carousel is a VIDEO item.
            return {"media_type": "VIDEO" if in_carousel else "REELS", "video_url": media.url}
        # alt_text: images only, since 2025-03-24 (content-publishing guide).
        return {"image_url": media.url, "alt_text": media.alt_text}

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        """Refuse: the Instagram API offers no delete for published media [U]; delete it in the app."""
        raise ProviderError(ErrorKind.PERMANENT, "Instagram does not let apps delete posts; delete it in the app.")

    def fallback_url(self, credentials: Credentials) -> str:
        """The account's profile URL."""
        username = str(credentials.config.get("username") or "")
        return f"https://www.instagram.com/{username}/" if username else "https://www.instagram.com/"

    # -- metrics
    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        """Lifetime insights per media (`impressions` is deprecated since 2025-04-21, `views` replaces it).

        A media the platform will not report on (deleted, or "(#10) Not enough viewers") is
        left out; auth, rate-limit and transient errors propagate.
        """
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
                    replies=values.get("comments", 0),
                    # Instagram's "shares" (to stories and messages) is its closest thing to a repost.
                    reposts=values.get("shares", 0),
                    impressions=None,
                    views=values.get("views"),
                    extra={k: values[k] for k in ("reach", "saved", "shares", "total_interactions") if k in values},
                )
            )
        return snapshots
