"""Bluesky over the AT Protocol's XRPC API (../shared/PLATFORMS.md §11, ../shared/specs/bluesky-lexicons/).

- Connecting: an app password, `com.atproto.server.createSession`; the session's refresh JWT
  rotates on `refreshSession` (the old one stays valid for a 2-hour grace period).
- Publishing: a post is a record in the account's repository on its PDS
  (`com.atproto.repo.createRecord`). We choose the record key (a TID) in `prepare`, so the
  engine saves it before the call and `lookup` is exact (`getRecord` on that key). A second
  createRecord with the same key gets HTTP 500 from the reference PDS, never a clean
  conflict: nothing here repeats a create on its own.
- Errors: an expired or malformed token is HTTP **400** (`ExpiredToken`, `InvalidToken`), not 401.
- Metrics come from the AppView (`app.bsky.feed.getPosts`), which is public: we never send the
  account's PDS token there.

[U] unverified here: video posts (they go through a separate video service with service auth,
not supported yet); link cards (`app.bsky.embed.external` needs a fetched title, which we
do not fetch).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

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
from publishing.providers.bluesky.facets import build_facets, find_spans, grapheme_count, tag_is_too_long

logger = logging.getLogger(__name__)

POST_COLLECTION = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 2_000_000  # app.bsky.embed.images#image maxSize (raised from 1 MB in 2026)
GET_POSTS_BATCH = 25  # app.bsky.feed.getPosts: uris maxLength
ACCESS_TOKEN_TTL = timedelta(minutes=120)  # when the JWT's own `exp` cannot be read
DEFAULT_APPVIEW = "https://public.api.bsky.app"

# Errors that mean "this session is no good": refresh once, else reconnect.
_AUTH_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired", "BadJwt"})
# Errors about the account itself: no retry and no refresh helps.
_ACCOUNT_ERRORS = frozenset(
    {"AccountTakedown", "AccountDeactivated", "RepoTakendown", "RepoDeactivated", "RepoSuspended"}
)

# --------------------------------------------------------------------------- TIDs

# TID: 64 bits (top bit 0, 53 bits of microseconds since the epoch, 10 bits of clock id),
# written as 13 characters of base32-sortable, so keys sort by time (atproto "TID" spec).
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_tid_lock = threading.Lock()
_last_tid_micros = 0


def new_tid() -> str:
    """Return a fresh TID: increasing within this process, with a random clock id against other processes."""
    global _last_tid_micros
    with _tid_lock:
        # Two posts prepared in the same microsecond must still get different keys.
        micros = max(time.time_ns() // 1000, _last_tid_micros + 1)
        _last_tid_micros = micros
    value = (micros << 10) | secrets.randbelow(1024)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_tid(value: str) -> bool:
    return bool(TID_PATTERN.match(value or ""))


def split_at_uri(uri: str) -> tuple[str, str, str]:
    """Split at://<repo>/<collection>/<rkey> into its three parts; ValueError if it is not one."""
    if not uri.startswith("at://"):
        raise ValueError(f"not an at:// URI: {uri!r}")
    parts = uri[len("at://") :].split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a record URI: {uri!r}")
    return parts[0], parts[1], parts[2]


def _jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, read without verifying it (only to plan the next refresh)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- the provider


class BlueskyProvider(HttpProvider):
    """Bluesky: one account per app-password session, posts as `app.bsky.feed.post` records."""

    prepares_locally = True  # the record key is a fresh TID, made here
    slug: ClassVar[str] = "bluesky"
    display_name: ClassVar[str] = "Bluesky"
    auth_kind: ClassVar[str] = "app_password"
    supports_pkce: ClassVar[bool] = False
    scopes: ClassVar[tuple[str, ...]] = ()
    max_text_length: ClassVar[int] = MAX_GRAPHEMES
    max_media: ClassVar[int] = MAX_IMAGES
    has_idempotency_handle: ClassVar[bool] = True
    can_revoke: ClassVar[bool] = True
    supports_refresh: ClassVar[bool] = True
    reports_duplicates: ClassVar[bool] = False
    registers_per_server: ClassVar[bool] = False

    # -- content

    def post_text(self, variant: Variant) -> str:
        """Return the text to post: the variant's text, with its link on a line of its own if the text lacks it."""
        text = variant.text
        if variant.link and variant.link not in text:
            text = f"{text.rstrip()}\n\n{variant.link}" if text.strip() else variant.link
        return text

    def validate(self, variant: Variant) -> ValidationResult:
        """Check a variant as Bluesky counts it: ≤ 300 graphemes and ≤ 3000 bytes, ≤ 4 images of ≤ 2 MB.

        Length is in grapheme clusters (a family emoji counts 1). Missing alt text and
        over-long hashtags (left unlinked) are warnings; everything else blocks.
        """
        text = self.post_text(variant)
        length = grapheme_count(text)
        size = len(text.encode("utf-8"))
        issues: list[ValidationIssue] = []
        if not text.strip() and not variant.media:
            issues.append(ValidationIssue("text", "Write some text or attach an image."))
        if length > MAX_GRAPHEMES:
            issues.append(
                ValidationIssue("text", f"Bluesky allows {MAX_GRAPHEMES} characters; this post has {length}.")
            )
        if size > MAX_TEXT_BYTES:
            issues.append(
                ValidationIssue(
                    "text",
                    f"Bluesky allows {MAX_TEXT_BYTES} bytes of text; this post has {size} "
                    "(emoji and accented letters take several bytes each).",
                )
            )
        for span in find_spans(text):
            if span.kind == "tag" and tag_is_too_long(span.value):
                issues.append(
                    ValidationIssue(
                        "text", f"#{span.value[:20]}… is longer than 64 characters and will not be a hashtag.", False
                    )
                )
        issues.extend(self._media_issues(variant.media))
        return ValidationResult(length=length, max_length=MAX_GRAPHEMES, issues=tuple(issues))

    def _media_issues(self, media: tuple[Media, ...]) -> list[ValidationIssue]:
        issues: list[ValidationIssue] = []
        if any(item.is_video for item in media):
            issues.append(ValidationIssue("media", "Videos cannot be posted to Bluesky from LetsGrow yet."))
        if any(not item.is_image and not item.is_video for item in media):
            issues.append(ValidationIssue("media", "Bluesky posts can only carry images."))
        images = [item for item in media if item.is_image]
        if len(images) > MAX_IMAGES:
            issues.append(
                ValidationIssue("media", f"Bluesky allows {MAX_IMAGES} images per post; this has {len(images)}.")
            )
        for number, image in enumerate(images, start=1):
            size = len(image.data) if image.data is not None else image.size
            if size > MAX_IMAGE_BYTES:
                issues.append(
                    ValidationIssue(
                        "media", f"Image {number} is {size:,} bytes; Bluesky accepts images up to {MAX_IMAGE_BYTES:,}."
                    )
                )
            if not image.alt_text.strip():
                issues.append(
                    ValidationIssue(
                        "media", f"Image {number} has no alt text; people using screen readers will miss it.", False
                    )
                )
        return issues

    # -- connecting

    def login(self, *, identifier: str, password: str) -> AccountProfile:
        """Open a session with a handle (or email) and an app password; return the account with its tokens.

        The profile's `account_id` is the DID (stable, unlike the handle); its config holds
        the DID, the handle and the PDS these tokens belong to. The display name and avatar
        come from the AppView when it answers; a login never fails for want of them.
        """
        identifier = identifier.strip().removeprefix("@")
        try:
            response = self.request(
                "POST",
                self._pds_url("com.atproto.server.createSession"),
                json={"identifier": identifier, "password": password},
            )
        except ProviderError as exc:
            if "AuthFactorTokenRequired" in exc.message:
                raise ProviderError(
                    ErrorKind.PERMANENT,
                    "Bluesky asks for a sign-in code: use an app password instead "
                    "(Bluesky → Settings → Privacy and security → App passwords).",
                    status=exc.status,
                ) from exc
            raise
        data = response.json()
        did, handle = data["did"], data["handle"]
        display_name, avatar_url = self._profile(did)
        return AccountProfile(
            account_id=did,
            handle=handle,
            display_name=display_name,
            avatar_url=avatar_url,
            tokens=self._token_set(data),
            config={"did": did, "handle": handle, "pds": self.config.api_base},
        )

    def _profile(self, did: str) -> tuple[str, str]:
        """Read (display name, avatar URL) from the public AppView; ("", "") when it does not answer."""
        try:
            response = self.request(
                "GET", self._appview_url("app.bsky.actor.getProfile"), params={"actor": did}, expected=(200,)
            )
            data = response.json()
        except (ProviderError, ValueError) as exc:
            # Cosmetic only: the account works without a display name.
            logger.info("Bluesky profile of %s not available: %s", did, getattr(exc, "message", exc))
            return "", ""
        return str(data.get("displayName") or ""), str(data.get("avatar") or "")

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        """Rotate the session with its refresh JWT (`refreshSession`); return both new tokens.

        The old refresh token stays valid for two hours, so a concurrent refresh of the same
        account by another worker still succeeds; store the tokens this returns. A refused
        refresh token is AUTH_EXPIRED: the account must be reconnected.
        """
        if not credentials.refresh_token:
            raise ProviderError(ErrorKind.AUTH_EXPIRED, "This Bluesky connection has no refresh token; reconnect it.")
        response = self.request(
            "POST",
            self._pds_url("com.atproto.server.refreshSession", credentials),
            token=credentials.refresh_token,
        )
        return self._token_set(response.json())

    def revoke(self, credentials: Credentials) -> None:
        """End the session on the PDS (`deleteSession`, with the refresh JWT); a dead session counts as ended.

        The app password itself stays until the user deletes it in Bluesky's settings.
        """
        if not credentials.refresh_token:
            return
        try:
            self.request(
                "POST",
                self._pds_url("com.atproto.server.deleteSession", credentials),
                token=credentials.refresh_token,
            )
        except ProviderError as exc:
            if exc.kind is not ErrorKind.AUTH_EXPIRED:
                raise

    @staticmethod
    def _token_set(data: dict[str, Any]) -> TokenSet:
        access = data["accessJwt"]
        return TokenSet(
            access_token=access,
            refresh_token=data["refreshJwt"],
            expires_at=_jwt_expiry(access) or datetime.now(tz=UTC) + ACCESS_TOKEN_TTL,
        )

    # -- publishing

    def prepare(self, credentials: Credentials, variant: Variant) -> str:
        """Choose the post's record key (a fresh TID) for the engine to save before `publish`; no network call.

        Publishing with this key makes `lookup` exact: the post exists if and only if a
        record with this key exists in the account's repository.
        """
        return new_tid()

    def publish(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult:
        """Create the post as a record with key `handle` (a TID from `prepare`); return its at:// URI and web URL.

        Images are uploaded first and mentions resolved to DIDs; a failure there leaves no
        post behind, so it is raised with `maybe_sent=False`. Only the final createRecord can
        leave a post whose answer was lost (`maybe_sent=True`): call `lookup` with the same
        key before trying again, since a repeated create with that key fails with a 500.
        """
        result = self.validate(variant)
        if not result.is_valid:
            problems = "; ".join(issue.message for issue in result.issues if issue.is_blocking)
            raise ProviderError(ErrorKind.INVALID_CONTENT, problems)
        rkey = handle or new_tid()
        if not is_tid(rkey):
            raise ProviderError(ErrorKind.PERMANENT, f"The saved Bluesky record key {rkey!r} is not a TID.")
        did = self._did(credentials)
        text = self.post_text(variant)
        try:
            record: dict[str, Any] = {
                "$type": POST_COLLECTION,
                "text": text,
                "createdAt": _now_iso(),
            }
            facets = build_facets(text, lambda name: self._resolve_handle(credentials, name))
            if facets:
                record["facets"] = facets
            images = [item for item in variant.media if item.is_image]
            if images:
                record["embed"] = {
                    "$type": "app.bsky.embed.images",
                    "images": [self._image(credentials, image) for image in images],
                }
        except ProviderError as exc:
            # Nothing is posted before createRecord: an upload whose answer was lost is only an
            # orphan blob (the PDS deletes unreferenced blobs), never a post to look up.
            exc.maybe_sent = False
            raise
        response = self.request(
            "POST",
            self._pds_url("com.atproto.repo.createRecord", credentials),
            credentials=credentials,
            json={"repo": did, "collection": POST_COLLECTION, "rkey": rkey, "record": record},
        )
        uri = response.json()["uri"]
        return PublishResult(remote_id=uri, url=self.post_url(credentials, uri))

    def lookup(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult | None:
        """Find the post by its record key (`getRecord`: 200 exists, 400 RecordNotFound does not).

        Without a key, list the account's latest posts and match the text's fingerprint.
        Reads are public, so no token is sent: a lookup right after a crash works even when
        the access token has just expired.
        """
        if not handle:
            return self._lookup_by_text(credentials, variant)
        did = self._did(credentials)
        response = self.request(
            "GET",
            self._pds_url("com.atproto.repo.getRecord", credentials),
            params={"repo": did, "collection": POST_COLLECTION, "rkey": handle},
            expected=(200, 400),
        )
        if response.status_code == 400:
            if _xrpc_error(response)[0] == "RecordNotFound":
                return None
            raise self.classify(response)
        uri = response.json()["uri"]
        return PublishResult(remote_id=uri, url=self.post_url(credentials, uri))

    def _lookup_by_text(self, credentials: Credentials, variant: Variant) -> PublishResult | None:
        wanted = Variant(text=self.post_text(variant)).fingerprint()
        response = self.request(
            "GET",
            self._pds_url("com.atproto.repo.listRecords", credentials),
            params={"repo": self._did(credentials), "collection": POST_COLLECTION, "limit": 50},
        )
        for item in response.json().get("records", []):
            value = item.get("value") or {}
            if Variant(text=str(value.get("text", ""))).fingerprint() == wanted:
                return PublishResult(remote_id=item["uri"], url=self.post_url(credentials, item["uri"]))
        return None

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        """Delete the post (`deleteRecord`); deleting a post that is already gone succeeds."""
        try:
            repo, collection, rkey = split_at_uri(remote_id)
        except ValueError as exc:
            raise ProviderError(ErrorKind.PERMANENT, f"Not a Bluesky post id: {remote_id!r}.") from exc
        self.request(
            "POST",
            self._pds_url("com.atproto.repo.deleteRecord", credentials),
            credentials=credentials,
            json={"repo": repo, "collection": collection, "rkey": rkey},
        )

    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        """Read likes, reposts, replies and quotes from the AppView, 25 posts per call; deleted posts are left out.

        Bluesky reports no impressions or views (None).
        """
        snapshots: list[MetricsSnapshot] = []
        for offset in range(0, len(remote_ids), GET_POSTS_BATCH):
            batch = remote_ids[offset : offset + GET_POSTS_BATCH]
            response = self.request(
                "GET", self._appview_url("app.bsky.feed.getPosts"), params=[("uris", uri) for uri in batch]
            )
            for post in response.json().get("posts", []):
                extra = {"bookmarks": int(post["bookmarkCount"])} if "bookmarkCount" in post else {}
                snapshots.append(
                    MetricsSnapshot(
                        remote_id=post["uri"],
                        likes=int(post.get("likeCount", 0)),
                        reposts=int(post.get("repostCount", 0)),
                        replies=int(post.get("replyCount", 0)),
                        quotes=int(post.get("quoteCount", 0)),
                        extra=extra,
                    )
                )
        return snapshots

    def post_url(self, credentials: Credentials, uri: str) -> str:
        """Return the bsky.app address of a post (by handle when we know it, else by DID)."""
        repo, _collection, rkey = split_at_uri(uri)
        who = credentials.config.get("handle") or repo
        return f"https://bsky.app/profile/{quote(who, safe=':.')}/post/{quote(rkey)}"

    # -- helpers

    def _did(self, credentials: Credentials) -> str:
        did = credentials.config.get("did") or credentials.account_id
        if not did:
            raise ProviderError(ErrorKind.PERMANENT, "This Bluesky connection has no DID; reconnect it.")
        return str(did)

    def _pds_url(self, nsid: str, credentials: Credentials | None = None) -> str:
        # The tokens belong to the PDS that issued them: never send them to another server.
        base = (credentials.config.get("pds") if credentials else "") or self.config.api_base
        return f"{str(base).rstrip('/')}/xrpc/{nsid}"

    def _appview_url(self, nsid: str) -> str:
        base = self.config.extra.get("appview") or DEFAULT_APPVIEW
        return f"{str(base).rstrip('/')}/xrpc/{nsid}"

    def _resolve_handle(self, credentials: Credentials, handle: str) -> str | None:
        """Resolve `handle` to its DID; None when it does not resolve (the mention then stays plain text)."""
        response = self.request(
            "GET",
            self._pds_url("com.atproto.identity.resolveHandle", credentials),
            params={"handle": handle},
            expected=(200, 400),
        )
        if response.status_code == 400:
            if _xrpc_error(response)[0] in ("HandleNotFound", "InvalidRequest"):
                return None
            raise self.classify(response)
        did = response.json().get("did")
        return str(did) if did else None

    def _image(self, credentials: Credentials, image: Media) -> dict[str, Any]:
        """Upload one image (`uploadBlob`, raw bytes) and return its `app.bsky.embed.images#image`."""
        data = image.data
        if data is None:
            if not image.url:
                raise ProviderError(ErrorKind.INVALID_CONTENT, "An image has neither data nor a URL.")
            data = self.request("GET", image.url).content  # a public, signed URL: no token
        if len(data) > MAX_IMAGE_BYTES:
            raise ProviderError(
                ErrorKind.INVALID_CONTENT,
                f"An image is {len(data):,} bytes; Bluesky accepts images up to {MAX_IMAGE_BYTES:,}.",
            )
        response = self.request(
            "POST",
            self._pds_url("com.atproto.repo.uploadBlob", credentials),
            credentials=credentials,
            data=data,
            headers={"Content-Type": image.content_type},
        )
        entry: dict[str, Any] = {"image": response.json()["blob"], "alt": image.alt_text}
        if image.width and image.height:
            entry["aspectRatio"] = {"width": image.width, "height": image.height}
        return entry

    # -- errors

    def classify(self, response: requests.Response) -> ProviderError:
        """Map XRPC errors: 429 → RATE_LIMITED (RateLimit-Reset), 400 ExpiredToken/InvalidToken → AUTH_EXPIRED, …"""
        status = response.status_code
        error, _message = _xrpc_error(response)
        message = self.error_message(response)
        if status == 429 or error == "RateLimitExceeded":
            return ProviderError(ErrorKind.RATE_LIMITED, message, retry_after=self.retry_after(response), status=status)
        if error in _ACCOUNT_ERRORS or error == "AuthFactorTokenRequired":
            return ProviderError(ErrorKind.PERMANENT, message, status=status)
        # Bluesky answers an expired or malformed token with 400, not 401.
        if error in _AUTH_ERRORS or status == 401:
            return ProviderError(ErrorKind.AUTH_EXPIRED, message, status=status)
        if status in (400, 413, 415, 422):
            return ProviderError(ErrorKind.INVALID_CONTENT, message, status=status)
        if status >= 500:
            return ProviderError(ErrorKind.TRANSIENT, message, retry_after=self.retry_after(response), status=status)
        return ProviderError(ErrorKind.PERMANENT, message, status=status)

    def retry_after(self, response: requests.Response) -> float | None:
        """Read the seconds until the limit resets: RateLimit-Reset (Unix seconds), else Retry-After."""
        reset = seconds_until(response.headers.get("RateLimit-Reset"))
        return reset if reset is not None else seconds_until(response.headers.get("Retry-After"))

    def error_message(self, response: requests.Response) -> str:
        """Return "Bluesky answered 400 (ExpiredToken): Token has expired" from the XRPC error body."""
        error, message = _xrpc_error(response)
        code = f" ({error})" if error else ""
        detail = message or response.reason or "error"
        return f"{self.display_name} answered {response.status_code}{code}: {detail[:300]}"


def _xrpc_error(response: requests.Response) -> tuple[str, str]:
    """(error, message) of an XRPC error body `{"error": ..., "message": ...}`; ("", "") otherwise."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error") or ""), str(body.get("message") or "")


def _now_iso() -> str:
    """Now as an atproto datetime: RFC 3339, UTC, milliseconds."""
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
