"""X (API v2): OAuth 2.0 Authorization Code with PKCE, posts, chunked media upload, metrics.

Sources: ../shared/PLATFORMS.md §1 and X's OpenAPI document v2.167
(../shared/specs/x-api-v2.openapi.json). What they leave open, marked [U]:
- [U] Refresh-token rotation: we always keep the refresh token X returns and fall back
  to the old one only when none comes back.
- [U] A 429 may carry the 15-minute bucket (`x-rate-limit-*`) and the 24-hour buckets
  (`x-user-limit-24hour-*`, `x-app-limit-24hour-*`); Retry-After is undocumented.
- [U] Deleting a post that is already gone: we treat 404 as done.
- [U] Post text comes back with links wrapped in t.co, a trailing t.co link for
  attached media, and `&`, `<`, `>` HTML-escaped (long-standing X behaviour, not in
  the spec); `lookup` undoes all three before comparing.
- The spec renames some fields (`repost_count`, `post.fields`) while the documentation
  and the live API use `retweet_count` and `tweet.fields`: we send the documented
  query names and read either metric name.
- Video duration limits (0.5-140 s) cannot be checked: `Media` carries no duration.
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import requests
from twitter_text import extract_urls_with_indices, parse_tweet
from twitter_text.has_invalid_characters import has_invalid_characters

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

MAX_WEIGHTED_LENGTH = 280
MAX_IMAGES = 4
MAX_ALT_TEXT = 1000  # CreateMediaMetadataMetadataAltText.text maxLength
MAX_CASHTAGS = 1  # self-serve API access (manage-tweets introduction)

# Media best practices: 4 photos, or 1 GIF, or 1 video per post.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
GIF_TYPE = "image/gif"
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_GIF_BYTES = 15 * 1024 * 1024
MAX_VIDEO_BYTES = 512 * 1024 * 1024
# An APPEND segment may be at most 5 MB; 4 MiB leaves room for the multipart envelope.
CHUNK_BYTES = 4 * 1024 * 1024
# How long `publish` waits for X to process a video or GIF before giving up for now.
DEFAULT_PROCESSING_BUDGET_SECONDS = 300.0

METRICS_BATCH = 100  # GET /2/tweets takes at most 100 ids
LOOKUP_PAGE = 100  # GET /2/users/{id}/tweets max_results is 5..100

# twitter-text's cashtag rule: "$" and 1-6 letters, optionally ".xx"/"_xx", not inside a word.
_CASHTAG = re.compile(r"(?<![\w$])\$[A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?(?![\w])")
_TCO = re.compile(r"https?://t\.co/\w+")
_DUPLICATE_HINTS = ("duplicate content", "status is a duplicate")
_URL_PLACEHOLDER = "\x00url\x00"


class XProvider(HttpProvider):
    """X API v2 for one user: post text with up to 4 images, 1 GIF or 1 video; read public metrics."""

    slug: ClassVar[str] = "x"
    display_name: ClassVar[str] = "X"
    auth_kind: ClassVar[str] = "oauth2"
    supports_pkce: ClassVar[bool] = True
    scopes: ClassVar[tuple[str, ...]] = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
    max_text_length: ClassVar[int] = MAX_WEIGHTED_LENGTH
    max_media: ClassVar[int] = MAX_IMAGES
    # X has no idempotency key: after a crash we list the account's posts and match the text.
    has_idempotency_handle: ClassVar[bool] = False
    can_revoke: ClassVar[bool] = True
    supports_refresh: ClassVar[bool] = True
    reports_duplicates: ClassVar[bool] = True
    registers_per_server: ClassVar[bool] = False

    # Indirection so tests can skip the real waiting between media STATUS polls.
    sleep = staticmethod(time.sleep)

    # ------------------------------------------------------------------ content

    def validate(self, variant: Variant) -> ValidationResult:
        """Check text, links and media the way X counts them.

        Length is X's weighted count (twitter-text): most Latin characters and punctuation
        weigh 1, emoji (a whole ZWJ sequence included) and CJK weigh 2, every URL weighs 23,
        after NFC normalisation. The link, when not already in the text, is appended.
        """
        text = compose_text(variant)
        length = weighted_length(text)
        issues: list[ValidationIssue] = []
        if not text.strip() and not variant.media:
            issues.append(ValidationIssue("text", "Write some text or attach media: X refuses an empty post."))
        if length > MAX_WEIGHTED_LENGTH:
            issues.append(
                ValidationIssue(
                    "text",
                    f"X counts this post as {length} characters; the limit is {MAX_WEIGHTED_LENGTH}. "
                    "Every link counts 23, and emoji and CJK characters count 2.",
                )
            )
        if has_invalid_characters(unicodedata.normalize("NFC", text)):
            issues.append(ValidationIssue("text", "The text contains characters X does not accept (U+FFFE, U+FEFF…)."))
        cashtags = _CASHTAG.findall(text)
        if len(cashtags) > MAX_CASHTAGS:
            issues.append(
                ValidationIssue(
                    "text", f"X allows at most {MAX_CASHTAGS} cashtag per post; this one has {len(cashtags)}."
                )
            )
        if variant.link and not variant.link.startswith(("http://", "https://")):
            issues.append(ValidationIssue("link", "The link must start with http:// or https://."))
        issues.extend(validate_media(variant.media))
        return ValidationResult(length=length, max_length=MAX_WEIGHTED_LENGTH, issues=tuple(issues))

    # ------------------------------------------------------------------ connecting

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        """Build the URL of X's consent page.

        X requires PKCE: `code_challenge` is the S256 challenge of the verifier later given
        to `exchange_code`. `state` comes back unchanged on the redirect.
        """
        if not code_challenge:
            raise ValueError("X requires PKCE: pass the S256 code_challenge.")
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        base = (self.config.auth_base or self.config.api_base).rstrip("/")
        # %20 between scopes, as in X's own examples.
        return f"{base}/i/oauth2/authorize?{urlencode(params, quote_via=quote)}"

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> TokenSet:
        """Trade the authorization code (and the PKCE verifier) for tokens.

        Raises ProviderError(PERMANENT) when X refuses the code or the verifier: the user
        has to connect again.
        """
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            refreshing=False,
        )

    def fetch_accounts(self, tokens: TokenSet, *, config: dict[str, Any] | None = None) -> list[AccountProfile]:
        """Return the one X user these tokens act for (GET /2/users/me).

        The username is kept in the account config: post URLs are built from it.
        """
        response = self.request(
            "GET",
            "/2/users/me",
            token=tokens.access_token,
            params={"user.fields": "profile_image_url"},
            expected=(200,),
        )
        user = _data(response, self.display_name)
        if not isinstance(user, dict) or not user.get("id"):
            raise ProviderError(ErrorKind.PERMANENT, "X did not say which account these tokens belong to.")
        username = str(user.get("username") or "")
        return [
            AccountProfile(
                account_id=str(user["id"]),
                handle=username,
                display_name=str(user.get("name") or username),
                avatar_url=str(user.get("profile_image_url") or ""),
                config={"username": username},
            )
        ]

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        """Get a new access token with the refresh token (offline.access).

        Raises ProviderError(AUTH_EXPIRED) when there is no refresh token or X refuses it:
        the account needs reconnecting. Keeps the old refresh token if X sends none.
        """
        if not credentials.refresh_token:
            raise ProviderError(ErrorKind.AUTH_EXPIRED, "X gave no refresh token for this account; connect it again.")
        return self._token_request(
            {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token},
            refreshing=True,
            keep_refresh_token=credentials.refresh_token,
        )

    def revoke(self, credentials: Credentials) -> None:
        """Revoke the refresh token and the access token at X (POST /2/oauth2/revoke).

        Refresh first: it is the long-lived one. A token X no longer knows is not an error.
        """
        pairs = (("refresh_token", credentials.refresh_token), ("access_token", credentials.access_token))
        for hint, value in pairs:
            if not value:
                continue
            data = {"token": value, "token_type_hint": hint}
            self.request("POST", "/2/oauth2/revoke", expected=(200, 400, 401), **self._client_auth(data))

    # ------------------------------------------------------------------ publishing

    def prepare(self, credentials: Credentials, variant: Variant) -> str:
        """Return "": X has no platform-side handle to save before posting."""
        return ""

    def publish(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult:
        """Upload the media, then create the post (POST /2/tweets).

        Not safe to repeat: X has no idempotency key. After a TRANSIENT error with
        `maybe_sent`, call `lookup` before trying again. An identical post within X's
        window is refused as DUPLICATE.
        """
        try:
            media_ids = [self._upload(credentials, item) for item in variant.media]
        except ProviderError as exc:
            exc.maybe_sent = False  # a dropped upload call cannot have created the post
            raise
        body: dict[str, Any] = {"text": compose_text(variant)}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        response = self.request("POST", "/2/tweets", credentials=credentials, json=body, expected=(200, 201))
        try:
            post_id = str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError) as exc:
            # The post exists but we cannot tell its id: let the caller reconcile with lookup.
            raise ProviderError(
                ErrorKind.TRANSIENT,
                "X accepted the post but its answer could not be read.",
                status=response.status_code,
                maybe_sent=True,
            ) from exc
        return PublishResult(remote_id=post_id, url=post_url(credentials, post_id))

    def lookup(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult | None:
        """Find our post among the account's 100 most recent ones by its text; None if absent.

        X wraps links in t.co and HTML-escapes the text, so both sides are normalised
        before comparing. An older post with identical text would also match: X refuses
        identical text anyway, so that post is the one the user sees.
        """
        user_id = credentials.account_id or self._own_user_id(credentials)
        response = self.request(
            "GET",
            f"/2/users/{user_id}/tweets",
            credentials=credentials,
            params={
                "max_results": str(LOOKUP_PAGE),
                "tweet.fields": "created_at,entities",
                "exclude": "replies,retweets",
            },
            expected=(200,),
        )
        wanted = _signature_of_ours(compose_text(variant))
        posts = _data(response, self.display_name) or []
        for post in posts if isinstance(posts, list) else []:
            if isinstance(post, dict) and post.get("id") and _matches(wanted, _signature_of_theirs(post)):
                post_id = str(post["id"])
                return PublishResult(remote_id=post_id, url=post_url(credentials, post_id))
        return None

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        """Delete one post (DELETE /2/tweets/{id}); a post that is already gone counts as deleted."""
        response = self.request("DELETE", f"/2/tweets/{remote_id}", credentials=credentials, expected=(200, 404))
        if response.status_code == 404:
            return
        data = _data(response, self.display_name)
        if isinstance(data, dict) and data.get("deleted") is False:
            raise ProviderError(ErrorKind.PERMANENT, "X did not delete the post.", status=response.status_code)

    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        """Read public metrics for posts (GET /2/tweets?ids=…, 100 per call).

        Posts X no longer has (deleted, or suspended) are left out of the result.
        """
        snapshots: list[MetricsSnapshot] = []
        for start in range(0, len(remote_ids), METRICS_BATCH):
            batch = remote_ids[start : start + METRICS_BATCH]
            response = self.request(
                "GET",
                "/2/tweets",
                credentials=credentials,
                params={"ids": ",".join(batch), "tweet.fields": "public_metrics"},
                expected=(200,),
            )
            posts = _data(response, self.display_name) or []
            for post in posts if isinstance(posts, list) else []:
                if isinstance(post, dict) and post.get("id"):
                    snapshots.append(_snapshot(post))
        return snapshots

    # ------------------------------------------------------------------ errors

    def classify(self, response: requests.Response) -> ProviderError:
        """Turn X's error answer into a ProviderError.

        429 → RATE_LIMITED (retry_after from x-rate-limit-reset), 401 → AUTH_EXPIRED,
        403 "duplicate content" → DUPLICATE, any other 403 → PERMANENT, 400 → INVALID_CONTENT,
        5xx → TRANSIENT. Messages come from X's problem object, never from our request.
        """
        status = response.status_code
        message = self.error_message(response)
        if status == 429:
            return ProviderError(ErrorKind.RATE_LIMITED, message, retry_after=self.retry_after(response), status=status)
        if status == 401:
            return ProviderError(ErrorKind.AUTH_EXPIRED, message, status=status)
        if status == 403:
            kind = ErrorKind.DUPLICATE if _is_duplicate(response) else ErrorKind.PERMANENT
            return ProviderError(kind, message, status=status)
        if status in (400, 413, 415, 422):
            return ProviderError(ErrorKind.INVALID_CONTENT, message, status=status)
        if status >= 500:
            return ProviderError(ErrorKind.TRANSIENT, message, retry_after=self.retry_after(response), status=status)
        return ProviderError(ErrorKind.PERMANENT, message, status=status)

    def retry_after(self, response: requests.Response) -> float | None:
        """Return the seconds until X lifts the limit, from the exhausted bucket's reset (Unix seconds).

        A 429 can come from the 15-minute bucket or a 24-hour one; the latest reset among
        the exhausted buckets wins. Without any, fall back to x-rate-limit-reset, then Retry-After.
        """
        headers = response.headers
        waits = []
        for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
            reset = headers.get(f"{prefix}-reset")
            remaining = headers.get(f"{prefix}-remaining")
            if reset and (remaining is None or remaining.strip() == "0"):
                wait = seconds_until(reset)
                if wait is not None:
                    waits.append(wait)
        if waits:
            return max(waits)
        return seconds_until(headers.get("x-rate-limit-reset")) or seconds_until(headers.get("Retry-After"))

    def error_message(self, response: requests.Response) -> str:
        """Return a short message: the specific one in X's `errors` list, else the problem's detail."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            for error in body["errors"]:
                if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
                    return f"{self.display_name} answered {response.status_code}: {error['message'][:300]}"
        return super().error_message(response)

    # ------------------------------------------------------------------ internals

    def _client_auth(self, data: dict[str, str]) -> dict[str, Any]:
        """Build the OAuth endpoints' kwargs: Basic auth for a confidential client, else client_id in the body."""
        if self.config.client_secret:
            return {"data": data, "auth": (self.config.client_id, self.config.client_secret)}
        return {"data": {**data, "client_id": self.config.client_id}}

    def _token_request(self, data: dict[str, str], *, refreshing: bool, keep_refresh_token: str = "") -> TokenSet:
        try:
            response = self.request("POST", "/2/oauth2/token", expected=(200,), **self._client_auth(data))
        except ProviderError as exc:
            # The token endpoint answers 400/401 for a bad code, verifier, client or refresh token:
            # that is a connection problem, never a content one.
            if exc.status in (400, 401):
                kind = ErrorKind.AUTH_EXPIRED if refreshing else ErrorKind.PERMANENT
                raise ProviderError(kind, exc.message, status=exc.status) from exc
            raise
        try:
            return TokenSet.from_oauth_response(response.json(), keep_refresh_token=keep_refresh_token)
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(ErrorKind.TRANSIENT, "X answered the token request unreadably.") from exc

    def _own_user_id(self, credentials: Credentials) -> str:
        response = self.request("GET", "/2/users/me", credentials=credentials, expected=(200,))
        user = _data(response, self.display_name)
        if not isinstance(user, dict) or not user.get("id"):
            raise ProviderError(ErrorKind.PERMANENT, "X did not say which account this is.")
        return str(user["id"])

    def _upload(self, credentials: Credentials, media: Media) -> str:
        """Upload one file with the chunked flow (initialize → append… → finalize → STATUS); return its media id."""
        content = self._media_bytes(media)
        if not content:
            raise ProviderError(ErrorKind.INVALID_CONTENT, "The media file is empty.")
        response = self.request(
            "POST",
            "/2/media/upload/initialize",
            credentials=credentials,
            json={
                "media_type": media.content_type,
                "total_bytes": len(content),
                "media_category": media_category(media.content_type),
            },
            expected=(200, 201, 202),
        )
        started = _data(response, self.display_name)
        if not isinstance(started, dict) or not started.get("id"):
            raise ProviderError(ErrorKind.TRANSIENT, "X did not start the media upload.")
        media_id = str(started["id"])
        for index, offset in enumerate(range(0, len(content), CHUNK_BYTES)):
            self.request(
                "POST",
                f"/2/media/upload/{media_id}/append",
                credentials=credentials,
                data={"segment_index": str(index)},
                files={"media": ("blob", content[offset : offset + CHUNK_BYTES], "application/octet-stream")},
                expected=(200, 201, 202, 204),
            )
        response = self.request(
            "POST", f"/2/media/upload/{media_id}/finalize", credentials=credentials, expected=(200, 201, 202)
        )
        finished = _data(response, self.display_name)
        processing = finished.get("processing_info") if isinstance(finished, dict) else None
        self._wait_for_processing(credentials, media_id, processing)
        if media.alt_text:
            self.request(
                "POST",
                "/2/media/metadata",
                credentials=credentials,
                json={"id": media_id, "metadata": {"alt_text": {"text": media.alt_text[:MAX_ALT_TEXT]}}},
                expected=(200, 201),
            )
        return media_id

    def _wait_for_processing(self, credentials: Credentials, media_id: str, processing: Any) -> None:
        """Poll STATUS while X processes a video or GIF, within a bounded time budget.

        Images come back without processing_info and are ready at once.
        """
        budget = float(self.config.extra.get("x_media_processing_seconds", DEFAULT_PROCESSING_BUDGET_SECONDS))
        waited = 0.0
        while isinstance(processing, dict):
            state = processing.get("state")
            if state == "succeeded" or state is None:
                return
            if state == "failed":
                error = processing.get("error")
                detail = error.get("message") if isinstance(error, dict) else ""
                raise ProviderError(ErrorKind.INVALID_CONTENT, f"X could not process the media. {detail or ''}".strip())
            delay = min(max(float(processing.get("check_after_secs") or 1), 1.0), 60.0)
            if waited + delay > budget:
                raise ProviderError(ErrorKind.TRANSIENT, "X is still processing the media; try again shortly.")
            self.sleep(delay)
            waited += delay
            response = self.request(
                "GET",
                "/2/media/upload",
                credentials=credentials,
                params={"command": "STATUS", "media_id": media_id},
                expected=(200,),
            )
            status = _data(response, self.display_name)
            processing = status.get("processing_info") if isinstance(status, dict) else None

    def _media_bytes(self, media: Media) -> bytes:
        """Return the file's bytes: given, or fetched from its public signed URL."""
        if media.data is not None:
            return media.data
        if not media.url:
            raise ProviderError(ErrorKind.INVALID_CONTENT, "The media has neither data nor a URL.")
        try:
            response = self.http.get(media.url, timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise ProviderError(ErrorKind.TRANSIENT, "Could not fetch the media file to upload to X.") from exc
        if response.status_code != 200:
            # A signed URL that expired (403) or a storage hiccup heals on retry; a missing file does not.
            heals = response.status_code in (403, 408, 429) or response.status_code >= 500
            kind = ErrorKind.TRANSIENT if heals else ErrorKind.PERMANENT
            raise ProviderError(kind, f"Could not fetch the media file ({response.status_code}).")
        return response.content


# --------------------------------------------------------------------------- counting and checks


def compose_text(variant: Variant) -> str:
    """Return the post text as sent: X has no link field, so a link not already in the text is appended."""
    text = variant.text
    if variant.link and variant.link not in text:
        text = f"{text.rstrip()}\n{variant.link}" if text.strip() else variant.link
    return text


def weighted_length(text: str) -> int:
    """Count `text` as X does (twitter-text v3 configuration: NFC, URLs 23, emoji and CJK 2)."""
    return parse_tweet(text).weightedLength if text else 0


def media_category(content_type: str) -> str:
    if content_type == GIF_TYPE:
        return "tweet_gif"
    if content_type in VIDEO_TYPES:
        return "tweet_video"
    return "tweet_image"


def validate_media(media: tuple[Media, ...]) -> list[ValidationIssue]:
    """Check X's media rules: 4 images (5 MB each), or 1 GIF (15 MB), or 1 video (512 MB), nothing mixed."""
    issues: list[ValidationIssue] = []
    if not media:
        return issues
    moving = [item for item in media if item.content_type == GIF_TYPE or item.content_type in VIDEO_TYPES]
    if moving and len(media) > 1:
        issues.append(ValidationIssue("media", "On X a GIF or a video must be the only media of the post."))
    elif len(media) > MAX_IMAGES:
        issues.append(ValidationIssue("media", f"X takes at most {MAX_IMAGES} images per post; this has {len(media)}."))
    for number, item in enumerate(media, start=1):
        label = f"Media {number}"
        if item.content_type in IMAGE_TYPES:
            limit, kind = MAX_IMAGE_BYTES, "an image"
        elif item.content_type == GIF_TYPE:
            limit, kind = MAX_GIF_BYTES, "a GIF"
        elif item.content_type in VIDEO_TYPES:
            limit, kind = MAX_VIDEO_BYTES, "a video"
        else:
            issues.append(
                ValidationIssue("media", f"{label}: X takes JPG, PNG, GIF, WEBP, MP4 or MOV, not {item.content_type}.")
            )
            continue
        if item.size > limit:
            issues.append(ValidationIssue("media", f"{label}: {kind} may be at most {limit // (1024 * 1024)} MB on X."))
        if len(item.alt_text) > MAX_ALT_TEXT:
            issues.append(ValidationIssue("media", f"{label}: alt text may be at most {MAX_ALT_TEXT} characters."))
    return issues


def post_url(credentials: Credentials, post_id: str) -> str:
    username = str(credentials.config.get("username") or "")
    # x.com/i/web/status/<id> works without knowing the username.
    return f"https://x.com/{username}/status/{post_id}" if username else f"https://x.com/i/web/status/{post_id}"


# --------------------------------------------------------------------------- reading X's answers


def _data(response: requests.Response, name: str) -> Any:
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError(ErrorKind.TRANSIENT, f"{name} answered with an unreadable body.") from exc
    return body.get("data") if isinstance(body, dict) else None


def _is_duplicate(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    texts = [body.get("detail"), body.get("message")]
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            texts.append(error.get("message"))
            if error.get("code") == 187:  # v1.1's "Status is a duplicate."
                return True
    return any(isinstance(text, str) and any(hint in text.lower() for hint in _DUPLICATE_HINTS) for text in texts)


def _snapshot(post: dict[str, Any]) -> MetricsSnapshot:
    metrics = post.get("public_metrics") or {}

    def count(*names: str) -> int:
        for name in names:
            if isinstance(metrics.get(name), int):
                return int(metrics[name])
        return 0

    impressions = metrics.get("impression_count")
    return MetricsSnapshot(
        remote_id=str(post["id"]),
        likes=count("like_count"),
        reposts=count("retweet_count", "repost_count"),
        replies=count("reply_count"),
        quotes=count("quote_count"),
        impressions=int(impressions) if isinstance(impressions, int) else None,
        extra={"bookmarks": count("bookmark_count")},
    )


# --------------------------------------------------------------------------- matching our post


Signature = tuple[str, tuple[str, ...] | None]


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _url_key(url: str) -> str:
    """A URL as X may give it back: scheme added, host lower-cased, trailing slash dropped."""
    stripped = re.sub(r"^https?://", "", url.strip(), flags=re.IGNORECASE)
    host, _, rest = stripped.partition("/")
    return (host.lower() + ("/" + rest if rest else "")).rstrip("/")


def _signature_of_ours(text: str) -> Signature:
    text = unicodedata.normalize("NFC", text)
    urls = extract_urls_with_indices(text)
    keys = []
    for entity in sorted(urls, key=lambda e: e["indices"][0], reverse=True):
        start, end = entity["indices"]
        text = text[:start] + _URL_PLACEHOLDER + text[end:]
        keys.append(_url_key(entity["url"]))
    return _normalise(text), tuple(reversed(keys))


def _is_media_link(entity: dict[str, Any]) -> bool:
    display = str(entity.get("display_url") or "")
    return bool(entity.get("media_key")) or display.startswith(("pic.x.com", "pic.twitter.com"))


def _signature_of_theirs(post: dict[str, Any]) -> Signature:
    text = str(post.get("text") or "")
    entities = [e for e in (post.get("entities") or {}).get("urls") or [] if isinstance(e, dict) and e.get("url")]
    if not entities:
        # Without entities the links are unknown: compare the rest of the text only.
        return _normalise(html.unescape(_TCO.sub(_URL_PLACEHOLDER, text))), None
    keys = []
    for entity in entities:
        if _is_media_link(entity):  # the t.co link X appends for attached media
            text = text.replace(str(entity["url"]), "", 1)
        else:
            text = text.replace(str(entity["url"]), _URL_PLACEHOLDER, 1)
            keys.append(_url_key(str(entity.get("expanded_url") or entity["url"])))
    return _normalise(html.unescape(text)), tuple(keys)


def _matches(ours: Signature, theirs: Signature) -> bool:
    text, urls = ours
    their_text, their_urls = theirs
    if their_urls is None:
        # Links unknown; a trailing t.co link may be the attached media's rather than ours.
        trimmed = their_text.removesuffix(_URL_PLACEHOLDER).rstrip()
        return text in (their_text, trimmed)
    return text == their_text and sorted(urls or ()) == sorted(their_urls)
