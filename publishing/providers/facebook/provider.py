"""Facebook Pages through the Graph API (PLATFORMS.md §3).

One connection lists every Page the person manages; each Page becomes its own account with its
own Page access token. What is unverified is marked [U]:
- [U] A Page token obtained from a long-lived user token does not expire, so there is nothing
  to refresh: `refresh_credentials` asks for a reconnect.
- [U] Message limit 63,206 characters (widely quoted, not in the pages read).
- [U] Photos: under 4 MB, JPEG/PNG/GIF/BMP/TIFF/WEBP/HEIF; up to 10 in one post (LetsGrow's own
  cap; several photos go up unpublished, then one feed post attaches them).
- [U] Rate limits: Page-token calls are Business Use Case limited (`X-Business-Use-Case-Usage`,
  `estimated_time_to_regain_access` in minutes, documented as whole ones but read with any fraction
  given; 0 while throttled means under a minute; error 80001 for Pages); user-token calls
  report `X-App-Usage` percentages with no time. Codes 4/17/32/341/613 and 80000-80099 are
  throttling.
- [U] Views: `post_total_media_view_unique` replaces the impressions metrics deprecated on
  2025-11-15; it needs `read_insights`, and a failure there leaves views unknown, not an error.
- Lookup: no idempotency key exists, so we list `/{page_id}/published_posts` and match the
  message. Error 506 (duplicate) only guards *consecutive* identical posts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

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

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_VERSION = "v24.0"  # only when the configuration carries none
PHOTO_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/webp",
    "image/heif",
    "image/heic",
)
MAX_PHOTO_BYTES = 4 * 1024 * 1024
# Tasks a person needs on a Page to publish there (pages-api/posts: CREATE_CONTENT, MANAGE, MODERATE).
PUBLISHING_TASK = "CREATE_CONTENT"
VIEWS_METRIC = "post_total_media_view_unique"
ENGAGEMENT_FIELDS = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"
IDS_PER_REQUEST = 50  # Graph's multiple-ID lookup takes at most 50 ids
LOOKUP_PAGE_SIZE = 50
ACCOUNTS_PAGE_LIMIT = 10  # pages of /me/accounts we follow; 1,000 Pages is plenty

# Graph error codes (graph-api/guides/error-handling).
AUTH_CODES = frozenset({102, 190, 463, 467})
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613})
TRANSIENT_CODES = frozenset({1, 2})
INVALID_CODES = frozenset({100, 324, 1609005})
POLICY_BLOCK_CODE = 368
DUPLICATE_CODE = 506
GONE_SUBCODE = 33  # "Object with ID … does not exist"
# "0 minutes to regain access" means less than a minute: wait half a minute rather than hammer.
SUB_MINUTE_WAIT = 30.0


class GraphError(ProviderError):
    """A classified Graph error that keeps Facebook's own code and subcode (tests, "already gone" checks)."""

    def __init__(self, kind: ErrorKind, message: str, *, code: int, subcode: int, **kwargs: Any) -> None:
        """Keep Graph's `code` and `error_subcode` next to the classified kind."""
        super().__init__(kind, message, **kwargs)
        self.code = code
        self.subcode = subcode


class FacebookPagesProvider(HttpProvider):
    """A Facebook Page, acting with that Page's own access token."""

    slug: ClassVar[str] = "facebook"
    display_name: ClassVar[str] = "Facebook Pages"
    auth_kind: ClassVar[str] = "oauth2"
    supports_pkce: ClassVar[bool] = False
    scopes: ClassVar[tuple[str, ...]] = (
        "pages_show_list",
        "pages_read_engagement",
        "pages_manage_posts",
        "read_insights",
    )
    max_text_length: ClassVar[int] = 63_206
    max_media: ClassVar[int] = 10
    has_idempotency_handle: ClassVar[bool] = False
    can_revoke: ClassVar[bool] = False
    supports_refresh: ClassVar[bool] = False
    reports_duplicates: ClassVar[bool] = True
    registers_per_server: ClassVar[bool] = False

    # ------------------------------------------------------------------ content

    def validate(self, variant: Variant) -> ValidationResult:
        """Check the message length (characters), and that media are photos Facebook accepts."""
        length = len(self.message(variant))
        issues: list[ValidationIssue] = []
        if not variant.text.strip() and not variant.media and not variant.link:
            issues.append(ValidationIssue("text", "A Facebook post needs text, a photo or a link."))
        if length > self.max_text_length:
            issues.append(
                ValidationIssue("text", f"Facebook allows {self.max_text_length} characters; this post has {length}.")
            )
        if len(variant.media) > self.max_media:
            issues.append(ValidationIssue("media", f"LetsGrow posts at most {self.max_media} photos to a Page."))
        for item in variant.media:
            issues.extend(self._media_issues(item))
        return ValidationResult(length=length, max_length=self.max_text_length, issues=tuple(issues))

    def _media_issues(self, item: Media) -> list[ValidationIssue]:
        """Photos only, of a type and size Facebook accepts; no video yet."""
        if item.is_video:
            return [ValidationIssue("media", "LetsGrow does not post videos to Facebook Pages yet.")]
        if item.content_type not in PHOTO_TYPES:
            return [ValidationIssue("media", f"Facebook cannot post {item.content_type} files as photos.")]
        if item.size > MAX_PHOTO_BYTES:
            return [ValidationIssue("media", "Facebook photos must be under 4 MB.")]
        return []

    def message(self, variant: Variant) -> str:
        """The post's message. A photo post has no link field, so its link goes into the text."""
        text = variant.text
        if variant.media and variant.link and variant.link not in text:
            text = f"{text}\n\n{variant.link}" if text.strip() else variant.link
        return text

    # ------------------------------------------------------------------ connecting

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        """Facebook Login's dialog, asking for the Page permissions (comma-separated, as Facebook documents)."""
        return self.form_url(
            f"{self._auth_base()}/{self._version()}/dialog/oauth",
            {
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "response_type": "code",
                "scope": ",".join(self.scopes),
            },
        )

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> TokenSet:
        """Trade the code for a user token, then for a long-lived one, whose Page tokens never expire."""
        short = self._token_request(
            {
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            }
        )
        # Page tokens derived from a short-lived user token expire with it; from a long-lived one, never.
        long_lived = self._token_request(
            {
                "grant_type": "fb_exchange_token",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "fb_exchange_token": short["access_token"],
            }
        )
        return TokenSet.from_oauth_response(long_lived)

    def _token_request(self, params: dict[str, str]) -> dict[str, Any]:
        """GET the token endpoint; a refused code or token means going through Facebook Login again."""
        try:
            response = self.request("GET", self._path("oauth/access_token"), params=params, expected=(200,))
        except ProviderError as exc:
            if exc.kind in (ErrorKind.INVALID_CONTENT, ErrorKind.AUTH_EXPIRED):
                # A refused code or token: the person has to go through Facebook Login again.
                raise ProviderError(ErrorKind.PERMANENT, exc.message, status=exc.status) from exc
            raise
        return response.json()

    def fetch_accounts(self, tokens: TokenSet, *, config: dict[str, Any] | None = None) -> list[AccountProfile]:
        """One account per Page the person may publish to, each carrying its own Page token."""
        profiles: list[AccountProfile] = []
        url = self._path("me/accounts")
        params: dict[str, str] | None = {
            "fields": "id,name,username,access_token,tasks,picture",
            "limit": "100",
            **self._proof(tokens.access_token),
        }
        for _ in range(ACCOUNTS_PAGE_LIMIT):
            response = self.request("GET", url, token=tokens.access_token, params=params, expected=(200,))
            body = response.json()
            for page in body.get("data", []):
                profile = self._page_profile(page, tokens)
                if profile is not None:
                    profiles.append(profile)
            url = (body.get("paging") or {}).get("next") or ""
            params = None  # the `next` URL carries its own query
            if not url:
                break
        return profiles

    def _page_profile(self, page: dict[str, Any], tokens: TokenSet) -> AccountProfile | None:
        """The account for one Page, or None when the person may not publish there."""
        tasks = page.get("tasks")
        if not page.get("access_token") or (tasks is not None and PUBLISHING_TASK not in tasks):
            # Someone who may only analyse or advertise cannot post there: connecting it would only fail later.
            return None
        picture = page.get("picture") or {}
        avatar = (picture.get("data") or {}).get("url", "") if isinstance(picture, dict) else ""
        page_id = str(page["id"])
        return AccountProfile(
            account_id=page_id,
            handle=page.get("username") or page_id,
            display_name=page.get("name", ""),
            avatar_url=avatar,
            tokens=TokenSet(access_token=page["access_token"], expires_at=None, scopes=tokens.scopes),
            config={"page_id": page_id},
        )

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        """Page tokens cannot be refreshed: a refused one means the Page must be reconnected."""
        raise ProviderError(
            ErrorKind.AUTH_EXPIRED,
            "Facebook no longer accepts this Page's access; reconnect the Page through Facebook Login.",
        )

    # ------------------------------------------------------------------ publishing

    def publish(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult:
        """Post to the Page's feed: text and link, one photo, or several photos attached to one post."""
        page_id = self._page_id(credentials)
        photos = [item for item in variant.media if item.is_image]
        message = self.message(variant)
        if not photos:
            form = {"message": message}
            if variant.link:
                form["link"] = variant.link
            post_id = self._post(credentials, f"{page_id}/feed", form)["id"]
        elif len(photos) == 1:
            post_id = self._photo(credentials, page_id, photos[0], caption=message, published=True)["post_id"]
        else:
            ids = [self._photo(credentials, page_id, item, published=False)["id"] for item in photos]
            form = {"message": message}
            for index, media_fbid in enumerate(ids):
                form[f"attached_media[{index}]"] = json.dumps({"media_fbid": media_fbid})
            post_id = self._post(credentials, f"{page_id}/feed", form)["id"]
        return PublishResult(remote_id=str(post_id), url=self.post_url(str(post_id)))

    def _photo(
        self, credentials: Credentials, page_id: str, item: Media, *, caption: str = "", published: bool
    ) -> dict[str, Any]:
        """POST one photo to the Page: bytes when we have them, else its URL."""
        form = {"published": "true" if published else "false"}
        if caption:
            form["caption"] = caption
        if item.alt_text:
            form["alt_text_custom"] = item.alt_text  # [U] the Page photo alt-text field
        if item.data is not None:
            # Upload the bytes: Facebook cannot fetch media URLs that are not public (local, private buckets).
            files = {"source": ("photo", item.data, item.content_type)}
            return self._post(credentials, f"{page_id}/photos", form, files=files)
        return self._post(credentials, f"{page_id}/photos", {**form, "url": item.url})

    def lookup(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult | None:
        """Find our post among the Page's recent published posts by its message."""
        wanted = Variant(text=self.message(variant)).fingerprint()
        body = self._get(
            credentials,
            f"{self._page_id(credentials)}/published_posts",
            {"fields": "id,message,created_time", "limit": str(LOOKUP_PAGE_SIZE)},
        )
        for post in body.get("data", []):
            if Variant(text=post.get("message") or "").fingerprint() == wanted:
                return PublishResult(remote_id=str(post["id"]), url=self.post_url(str(post["id"])))
        return None

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        """Delete the post; one that no longer exists counts as deleted."""
        token = credentials.access_token
        try:
            self.request(
                "DELETE", self._path(remote_id), credentials=credentials, params=self._proof(token), expected=(200,)
            )
        except ProviderError as exc:
            if not _is_gone(exc):
                raise

    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        """Reactions, comments and shares (one call per 50 posts), plus unique views from insights."""
        fields: dict[str, dict[str, Any]] = {}
        for start in range(0, len(remote_ids), IDS_PER_REQUEST):
            fields.update(self._engagement(credentials, remote_ids[start : start + IDS_PER_REQUEST]))
        snapshots = []
        for post_id in remote_ids:
            data = fields.get(post_id)
            if data is None:
                continue  # deleted on Facebook: nothing to report
            snapshots.append(
                MetricsSnapshot(
                    remote_id=post_id,
                    likes=_summary_count(data.get("reactions")),
                    replies=_summary_count(data.get("comments")),
                    reposts=int((data.get("shares") or {}).get("count") or 0),
                    impressions=None,  # deprecated for every version since 2025-11-15
                    views=self._views(credentials, post_id),
                )
            )
        return snapshots

    def _engagement(self, credentials: Credentials, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Reactions, comments and shares of up to 50 posts by id; posts that no longer exist are left out."""
        try:
            return self._get(credentials, "", {"ids": ",".join(ids), "fields": ENGAGEMENT_FIELDS})
        except ProviderError as exc:
            if exc.kind is not ErrorKind.INVALID_CONTENT:
                raise
        # One missing id fails the whole multi-id read: read the posts one by one and skip the missing ones.
        result: dict[str, dict[str, Any]] = {}
        for post_id in ids:
            try:
                result[post_id] = self._get(credentials, post_id, {"fields": ENGAGEMENT_FIELDS})
            except ProviderError as exc:
                if not _is_gone(exc):
                    raise
        return result

    def _views(self, credentials: Credentials, post_id: str) -> int | None:
        """Unique media views from the post's insights; None when Facebook will not say."""
        try:
            body = self._get(credentials, f"{post_id}/insights", {"metric": VIEWS_METRIC})
        except ProviderError as exc:
            if exc.kind in (ErrorKind.INVALID_CONTENT, ErrorKind.PERMANENT):
                return None  # no read_insights, or the metric is not offered for this post
            raise
        for metric in body.get("data", []):
            if metric.get("name") == VIEWS_METRIC and metric.get("values"):
                return int(metric["values"][-1].get("value") or 0)
        return None

    # ------------------------------------------------------------------ errors

    def classify(self, response: requests.Response) -> ProviderError:
        """Read Graph's `{"error": {code, error_subcode, is_transient}}`; the HTTP status says little."""
        status = response.status_code
        error = graph_error(response)
        if not error:
            return super().classify(response)
        message = redact(
            f"{self.display_name} answered {status}: {str(error.get('message') or 'error')[:300]}", response
        )
        code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))

        def failure(kind: ErrorKind, retry_after: float | None = None) -> GraphError:
            return GraphError(kind, message, code=code, subcode=subcode, retry_after=retry_after, status=status)

        if code in AUTH_CODES:
            return failure(ErrorKind.AUTH_EXPIRED)
        if code in THROTTLE_CODES or 80000 <= code <= 80099 or status == 429:
            return failure(ErrorKind.RATE_LIMITED, self.retry_after(response))
        if code in TRANSIENT_CODES or error.get("is_transient") or status >= 500:
            return failure(ErrorKind.TRANSIENT)
        if code == DUPLICATE_CODE:
            return failure(ErrorKind.DUPLICATE)
        if code == POLICY_BLOCK_CODE:
            return failure(ErrorKind.PERMANENT)
        if code in INVALID_CODES:
            return failure(ErrorKind.INVALID_CONTENT)
        # 10 and 200-299 are missing permissions; anything else unknown is not worth retrying.
        return failure(ErrorKind.PERMANENT)

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds until Meta lifts the throttle: X-Business-Use-Case-Usage, else Retry-After, else unknown."""
        minutes = business_use_case_wait(response.headers.get("X-Business-Use-Case-Usage"))
        if minutes is not None:
            return minutes * 60.0 if minutes > 0 else SUB_MINUTE_WAIT
        # X-App-Usage only reports percentages used; it says nothing about when they drop.
        return seconds_until(response.headers.get("Retry-After"))

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def post_url(post_id: str) -> str:
        """The public address of a post from its `{page_id}_{post_id}` id."""
        return f"https://www.facebook.com/{post_id}"

    def _version(self) -> str:
        """The Graph API version in every path (v24.0, …)."""
        return str(self.config.extra.get("graph_version") or DEFAULT_GRAPH_VERSION)

    def _auth_base(self) -> str:
        """Where Facebook Login lives (www.facebook.com, or the emulator)."""
        return (self.config.auth_base or self.config.api_base).rstrip("/")

    def _path(self, path: str) -> str:
        """A Graph path under the configured version."""
        return f"/{self._version()}/{path.lstrip('/')}"

    def _page_id(self, credentials: Credentials) -> str:
        """The Page these credentials act for."""
        return str(credentials.config.get("page_id") or credentials.account_id)

    def _proof(self, token: str) -> dict[str, str]:
        """appsecret_proof: proves the call comes from our server, as "Require App Secret" demands."""
        if not self.config.client_secret or not token:
            return {}
        digest = hmac.new(self.config.client_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        return {"appsecret_proof": digest}

    def _get(self, credentials: Credentials, path: str, params: dict[str, str]) -> dict[str, Any]:
        """GET a Graph path with the Page token (and appsecret_proof); the decoded JSON."""
        params = {**params, **self._proof(credentials.access_token)}
        return self.request("GET", self._path(path), credentials=credentials, params=params, expected=(200,)).json()

    def _post(self, credentials: Credentials, path: str, form: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        """POST a form to a Graph path with the Page token (and appsecret_proof); the decoded JSON."""
        form = {**form, **self._proof(credentials.access_token)}
        return self.request(
            "POST", self._path(path), credentials=credentials, data=form, expected=(200,), **kwargs
        ).json()


def graph_error(response: requests.Response) -> dict[str, Any]:
    """The `error` object of a Graph error body, or {}."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def business_use_case_wait(header: str | None) -> float | None:
    """The longest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage; None if absent."""
    if not header:
        return None
    try:
        usage = json.loads(header)
    except ValueError:
        return None
    waits = [
        _float(entry.get("estimated_time_to_regain_access"))
        for entries in (usage.values() if isinstance(usage, dict) else [])
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    ]
    return max(waits) if waits else None


def redact(message: str, response: requests.Response) -> str:
    """Remove the request's own token and secrets from a message, should Graph ever echo them."""
    request = response.request
    if request is None:
        return message
    secrets = []
    authorization = str(request.headers.get("Authorization", ""))
    if " " in authorization:
        secrets.append(authorization.split(" ", 1)[1])
    query = parse_qs(urlsplit(request.url or "").query)
    for key in ("access_token", "fb_exchange_token", "client_secret", "code"):
        secrets.extend(query.get(key, []))
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    return message


def _summary_count(edge: Any) -> int:
    if not isinstance(edge, dict):
        return 0
    return int((edge.get("summary") or {}).get("total_count") or 0)


def _is_gone(exc: ProviderError) -> bool:
    """Graph's "object does not exist" (code 100, subcode 33), or a plain 404."""
    if isinstance(exc, GraphError):
        return exc.code == 100 and exc.subcode == GONE_SUBCODE
    return exc.status == 404


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0
