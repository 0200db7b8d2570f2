"""LinkedIn member posts through the versioned REST Posts API (PLATFORMS.md §2).

What is unverified is marked [U]:
- [U] PKCE is not documented for the web flow, so it is not used; `state` is always sent.
- [U] The new post's URN comes back in the `x-restli-id` response header.
- [U] A duplicate is refused with 422 "Content is a duplicate of urn:li:share:…" (seen in the
  wild, not in the pages read); any 422/400 mentioning "duplicate" is taken as one.
- [U] Rate limits: a bare 429 with no documented headers. We honour Retry-After when present;
  otherwise we wait for the documented daily reset at midnight UTC.
- [U] Lookup lists the member's posts (`GET /rest/posts?q=author`), which LinkedIn documents as
  needing the restricted `r_member_social`. Without it the listing fails and lookup raises rather
  than answer "not posted", so the engine never posts twice on a guess.
- [U] Metrics: `memberCreatorPostAnalytics` (q=entity, aggregation TOTAL), one call per metric;
  the element shape `{count, metricType, targetEntity}` is read loosely.
- [U] Commentary length: 3,000, counted in UTF-16 units on the escaped text we send, since that is
  the string LinkedIn validates. Escapes make a post with many reserved characters count longer.
- Videos, documents, articles and polls are not posted by LetsGrow yet.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

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
from publishing.providers.linkedin import little

logger = logging.getLogger(__name__)

RESTLI_PROTOCOL_VERSION = "2.0.0"
DEFAULT_API_VERSION = "202611"  # only when the configuration carries none
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")
MAX_IMAGE_PIXELS = 36_152_320  # PLATFORMS.md §2 (CData docs, third-party)
LOOKUP_PAGE_SIZE = 50
METRIC_TYPES = ("IMPRESSION", "REACTION", "COMMENT", "RESHARE")


class LinkedInProvider(HttpProvider):
    """A LinkedIn member: posts as `urn:li:person:{sub}` with the member's own token."""

    slug: ClassVar[str] = "linkedin"
    display_name: ClassVar[str] = "LinkedIn"
    auth_kind: ClassVar[str] = "oauth2"
    supports_pkce: ClassVar[bool] = False
    scopes: ClassVar[tuple[str, ...]] = ("openid", "profile", "w_member_social", "r_member_postAnalytics")
    max_text_length: ClassVar[int] = 3000
    max_media: ClassVar[int] = 20  # MultiImage: 2 to 20 images (older pages say 2 to 9)
    has_idempotency_handle: ClassVar[bool] = False
    can_revoke: ClassVar[bool] = False
    # Programmatic refresh tokens exist for approved partners only; without one, refresh raises AUTH_EXPIRED.
    supports_refresh: ClassVar[bool] = True
    reports_duplicates: ClassVar[bool] = True
    registers_per_server: ClassVar[bool] = False

    # ------------------------------------------------------------------ content

    def validate(self, variant: Variant) -> ValidationResult:
        """Check length (UTF-16 units of the escaped commentary), image count, types and size."""
        commentary = little.to_commentary(self.post_text(variant))
        length = little.utf16_length(commentary)
        issues: list[ValidationIssue] = []
        if not variant.text.strip() and not variant.media and not variant.link:
            issues.append(ValidationIssue("text", "A LinkedIn post needs text, an image or a link."))
        if length > self.max_text_length:
            issues.append(
                ValidationIssue(
                    "text",
                    f"LinkedIn allows {self.max_text_length} characters; this post has {length} "
                    "(special characters such as ( ) # _ count twice, as LinkedIn receives them escaped).",
                )
            )
        issues.extend(self._media_issues(variant.media))
        return ValidationResult(length=length, max_length=self.max_text_length, issues=tuple(issues))

    def _media_issues(self, media: tuple[Media, ...]) -> list[ValidationIssue]:
        """Images only (JPG, PNG, GIF), at most 20, under 36 megapixels; no video yet."""
        issues = []
        if any(item.is_video for item in media):
            issues.append(ValidationIssue("media", "LetsGrow does not post videos to LinkedIn yet."))
        images = [item for item in media if item.is_image]
        if len(images) > self.max_media:
            issues.append(ValidationIssue("media", f"LinkedIn takes at most {self.max_media} images in one post."))
        for item in media:
            if not item.is_image and not item.is_video:
                issues.append(ValidationIssue("media", f"LinkedIn cannot show {item.content_type} files."))
            elif item.is_image and item.content_type not in IMAGE_TYPES:
                issues.append(ValidationIssue("media", "LinkedIn takes JPG, PNG or GIF images."))
            if item.width and item.height and item.width * item.height > MAX_IMAGE_PIXELS:
                issues.append(ValidationIssue("media", "LinkedIn images must be under 36 megapixels."))
        if len(images) > 1 and any(item.content_type == "image/gif" for item in images):
            # [U] MultiImage lists JPG and PNG; a GIF is posted on its own.
            issues.append(ValidationIssue("media", "LinkedIn shows a GIF only on its own, not with other images."))
        return issues

    def post_text(self, variant: Variant) -> str:
        """The plain text we publish: the variant's text, plus its link when the text lacks it.

        API posts get no link preview card without an article title, so the link goes in the text.
        """
        text = variant.text
        if variant.link and variant.link not in text:
            text = f"{text}\n\n{variant.link}" if text.strip() else variant.link
        return text

    # ------------------------------------------------------------------ connecting

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str = "") -> str:
        """Where the member's browser authorizes us. LinkedIn's web flow has no PKCE; `state` is always sent."""
        return self.form_url(
            f"{self._auth_base()}/oauth/v2/authorization",
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": " ".join(self.scopes),
            },
        )

    def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str = "") -> TokenSet:
        """Trade the authorization code for a 60-day access token (and a refresh token for partners)."""
        data = self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            },
            refreshing=False,
        )
        return TokenSet.from_oauth_response(data)

    def fetch_accounts(self, tokens: TokenSet, *, config: dict[str, Any] | None = None) -> list[AccountProfile]:
        """The member these tokens belong to, from the OpenID `userinfo` endpoint."""
        response = self.request("GET", "/v2/userinfo", token=tokens.access_token, expected=(200,))
        info = response.json()
        sub = str(info["sub"])
        name = info.get("name") or " ".join(filter(None, (info.get("given_name"), info.get("family_name"))))
        return [
            AccountProfile(
                account_id=sub,
                # userinfo carries no vanity name; the member's name is what people recognise.
                handle=name or sub,
                display_name=name,
                avatar_url=info.get("picture") or "",
                config={"author_urn": f"urn:li:person:{sub}"},
            )
        ]

    def refresh_credentials(self, credentials: Credentials) -> TokenSet:
        """Get a new 60-day access token. The refresh token keeps its original 365-day expiry."""
        if not credentials.refresh_token:
            raise ProviderError(
                ErrorKind.AUTH_EXPIRED,
                "LinkedIn gave no refresh token (only approved partners get one); reconnect the account.",
            )
        data = self._token_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": credentials.refresh_token,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            },
            refreshing=True,
        )
        return TokenSet.from_oauth_response(data, keep_refresh_token=credentials.refresh_token)

    def _token_request(self, form: dict[str, str], *, refreshing: bool) -> dict[str, Any]:
        """POST to the token endpoint; a refused grant becomes AUTH_EXPIRED (refresh) or PERMANENT (code)."""
        try:
            response = self.request("POST", f"{self._auth_base()}/oauth/v2/accessToken", data=form, expected=(200,))
        except ProviderError as exc:
            # A refused grant (400/401) means the member must connect again, whatever the error code says.
            if exc.status in (400, 401):
                kind = ErrorKind.AUTH_EXPIRED if refreshing else ErrorKind.PERMANENT
                raise ProviderError(kind, exc.message, status=exc.status) from exc
            raise
        return response.json()

    # ------------------------------------------------------------------ publishing

    def publish(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult:
        """Upload the images, then create the post; its URN comes back in `x-restli-id`."""
        author = self._author(credentials)
        images = [self._upload_image(credentials, author, item) for item in variant.media if item.is_image]
        body: dict[str, Any] = {
            "author": author,
            "commentary": little.to_commentary(self.post_text(variant)),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images) == 1:
            body["content"] = {"media": images[0]}
        elif images:
            body["content"] = {"multiImage": {"images": images}}
        response = self._rest("POST", "/rest/posts", credentials, json=body, expected=(200, 201))
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id") or ""
        if not urn:
            # Created, but we cannot tell which post it is: let the engine reconcile with lookup.
            raise ProviderError(
                ErrorKind.TRANSIENT,
                "LinkedIn accepted the post but did not say its id.",
                status=response.status_code,
                maybe_sent=True,
            )
        return PublishResult(remote_id=urn, url=self.post_url(urn))

    def _upload_image(self, credentials: Credentials, author: str, item: Media) -> dict[str, str]:
        """Register an image upload, PUT the bytes, and return the `content.media` entry for it."""
        response = self._rest(
            "POST",
            "/rest/images?action=initializeUpload",
            credentials,
            json={"initializeUploadRequest": {"owner": author}},
            expected=(200,),
        )
        value = response.json()["value"]
        self.request(
            "PUT",
            value["uploadUrl"],
            credentials=credentials,
            data=self._media_bytes(item),
            headers={"Content-Type": item.content_type},
            expected=(200, 201),
        )
        media = {"id": value["image"]}
        if item.alt_text:
            media["altText"] = item.alt_text[:4086]  # [U] the documented altText limit
        return media

    def _media_bytes(self, item: Media) -> bytes:
        """The image's bytes: given, or fetched from our own signed media URL."""
        if item.data is not None:
            return item.data
        # No credentials here: the media URL is ours (signed), it must never see a LinkedIn token.
        return self.request("GET", item.url, expected=(200,)).content

    def lookup(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult | None:
        """Find our post among the member's recent ones by its rendered text (no idempotency key exists)."""
        wanted = Variant(text=self.post_text(variant)).fingerprint()
        response = self._rest(
            "GET",
            "/rest/posts",
            credentials,
            params={
                "q": "author",
                "author": self._author(credentials),
                "count": str(LOOKUP_PAGE_SIZE),
                "sortBy": "LAST_MODIFIED",
            },
            headers={"X-RestLi-Method": "FINDER"},
            expected=(200,),
        )
        for element in response.json().get("elements", []):
            if element.get("lifecycleState", "PUBLISHED") != "PUBLISHED":
                continue
            shown = little.render(element.get("commentary") or "").text
            if Variant(text=shown).fingerprint() == wanted:
                return PublishResult(remote_id=element["id"], url=self.post_url(element["id"]))
        return None

    def delete(self, credentials: Credentials, remote_id: str) -> None:
        """Delete the post; one that is already gone counts as deleted."""
        try:
            self._rest(
                "DELETE",
                f"/rest/posts/{quote(remote_id, safe='')}",
                credentials,
                headers={"X-RestLi-Method": "DELETE"},
                expected=(200, 204),
            )
        except ProviderError as exc:
            if exc.status != 404:
                raise

    def fetch_metrics(self, credentials: Credentials, remote_ids: list[str]) -> list[MetricsSnapshot]:
        """Impressions, reactions, comments and reshares of each post (r_member_postAnalytics)."""
        snapshots = []
        for urn in remote_ids:
            counts = {metric: self._metric(credentials, urn, metric) for metric in METRIC_TYPES}
            snapshots.append(
                MetricsSnapshot(
                    remote_id=urn,
                    likes=counts["REACTION"],
                    replies=counts["COMMENT"],
                    reposts=counts["RESHARE"],
                    impressions=counts["IMPRESSION"],
                )
            )
        return snapshots

    def _metric(self, credentials: Credentials, urn: str, metric: str) -> int:
        # Rest.li 2.0: the parentheses and colon are syntax and stay literal; only the URN is encoded.
        # requests would encode them all if given `params`, so the query is written here.
        """One `memberCreatorPostAnalytics` total for one post and one metric type."""
        kind = "ugcPost" if urn.startswith("urn:li:ugcPost:") else "share"
        query = f"q=entity&entity=({kind}:{quote(urn, safe='')})&queryType={metric}&aggregation=TOTAL"
        response = self._rest("GET", f"/rest/memberCreatorPostAnalytics?{query}", credentials, expected=(200,))
        return sum(int(element.get("count") or 0) for element in response.json().get("elements", []))

    # ------------------------------------------------------------------ errors

    def classify(self, response: requests.Response) -> ProviderError:
        """LinkedIn's statuses: 401 token, 429 throttle, 422 duplicate or invalid, 426/VERSION_* our config."""
        status = response.status_code
        message = self.error_message(response)
        body = _json(response)
        code = str(body.get("code") or "") if isinstance(body, dict) else ""
        if status == 401:
            return ProviderError(ErrorKind.AUTH_EXPIRED, message, status=status)
        if status == 429:
            return ProviderError(ErrorKind.RATE_LIMITED, message, retry_after=self.retry_after(response), status=status)
        if status == 426 or code in ("VERSION_MISSING", "NONEXISTENT_VERSION"):
            # Our LinkedIn-Version is missing or sunset: every post would fail the same way.
            return ProviderError(ErrorKind.PERMANENT, message, status=status)
        if status in (400, 409, 422) and "duplicate" in message.lower():
            return ProviderError(ErrorKind.DUPLICATE, message, status=status)
        return super().classify(response)

    def retry_after(self, response: requests.Response) -> float | None:
        """Retry-After when LinkedIn sends one [U]; else the documented daily reset, midnight UTC."""
        hinted = seconds_until(response.headers.get("Retry-After"))
        if hinted is not None:
            return hinted
        now = datetime.now(tz=UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(60.0, (midnight - now).total_seconds())

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def post_url(urn: str) -> str:
        """The public address of a post from its URN."""
        return f"https://www.linkedin.com/feed/update/{urn}/"

    def _author(self, credentials: Credentials) -> str:
        """The author URN we post as: the member's person URN."""
        return str(credentials.config.get("author_urn") or f"urn:li:person:{credentials.account_id}")

    def _auth_base(self) -> str:
        """Where OAuth lives (www.linkedin.com, or the emulator)."""
        return (self.config.auth_base or self.config.api_base).rstrip("/")

    def _rest(
        self, method: str, path: str, credentials: Credentials, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """A call to /rest/…: every one needs the API version and the Rest.li 2.0 protocol header."""
        version = str(self.config.extra.get("linkedin_version") or DEFAULT_API_VERSION)
        rest_headers = {"LinkedIn-Version": version, "X-Restli-Protocol-Version": RESTLI_PROTOCOL_VERSION}
        return self.request(
            method, path, credentials=credentials, headers={**rest_headers, **(headers or {})}, **kwargs
        )


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
