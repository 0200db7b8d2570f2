"""LinkedIn, as its documentation describes it (PLATFORMS.md §2): OAuth, userinfo, the REST Posts API.

Written from learn.microsoft.com (posts-api, images-api, little-text-format, post-statistics,
programmatic-refresh-tokens, versioning) and PLATFORMS.md; never from our provider.
What it imitates, and where it had to guess ([U]):
- Every /rest/ call needs `LinkedIn-Version: YYYYMM` (missing: 400 VERSION_MISSING; a future or
  sunset month: 426 NONEXISTENT_VERSION; versions live about a year) and
  `X-Restli-Protocol-Version: 2.0.0` (missing: 400, [U] for the exact body).
- `commentary` is "little" text. An unescaped reserved character silently cuts the post there and
  the answer is still 201. [U] The element table also lists a bare `#tag` as a HashtagElement,
  but reports of truncation include `#`; the emulator takes the strict reading and only accepts
  escapes, `{hashtag|\\#|tag}` (or `{hashtag|#|tag}`) templates and `@[Name](urn:li:…)` mentions.
- [U] The new URN is in the `x-restli-id` header; a duplicate is 422 "Content is a duplicate of
  urn:li:share:…" (identical text and media by the same author within a day).
- [U] Rate limits: LinkedIn documents a bare 429. The emulator adds Retry-After so that reading
  it is exercised; a client must also cope without it.
- [U] Error bodies `{status, serviceErrorCode, code, message}`; the 401 codes 65600/65602.
- Refresh tokens last 365 days from the first grant; refreshing returns the same refresh token
  with its remaining life, never extending it (programmatic-refresh-tokens).
- Listing posts by author normally needs the restricted r_member_social; [U] the emulator does
  not enforce it, as our connection cannot request it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from publishing.emulator import oauth
from publishing.emulator.core import (
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    DropConnection,
    EmulatorState,
    Fault,
    OwnerIndex,
    PlatformEmulator,
    Token,
    account_id_for,
    bearer,
    json_response,
    note_account,
    now,
)

ACCESS_TTL = timedelta(days=60)
REFRESH_TTL = timedelta(days=365)
MAX_COMMENTARY = 3000
VERSION_LIFETIME_MONTHS = 12
RESERVED = frozenset("\\|{}@[]()<>#*_~")
VISIBILITIES = ("PUBLIC", "CONNECTIONS", "LOGGED_IN")
LIFECYCLE_STATES = ("PUBLISHED", "DRAFT")
QUERY_TYPES = ("IMPRESSION", "MEMBERS_REACHED", "RESHARE", "REACTION", "COMMENT")
METRIC_TYPE_KEY = "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1"

_TEMPLATE = re.compile(r"\{hashtag\|(\\#|#|\\\uff03|\uff03)\|((?:\\.|[^\\{}|])+)\}")
_MENTION = re.compile(r"@\[((?:\\.|[^\\\]])+)\]\((urn:li:[A-Za-z]+:[^)\s]+)\)")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_ENTITY = re.compile(r"^\((share|ugcPost):(urn:li:(?:share|ugcPost):\d+)\)$")


def read_little(commentary: str) -> tuple[str, int | None]:
    """(what LinkedIn shows, index in `commentary` where it silently cut the post or None)."""
    out: list[str] = []
    i, length = 0, len(commentary)
    while i < length:
        char = commentary[i]
        if char == "\\" and i + 1 < length and commentary[i + 1] in RESERVED:
            out.append(commentary[i + 1])
            i += 2
            continue
        if char == "{" and (match := _TEMPLATE.match(commentary, i)):
            out.append(match.group(1).lstrip("\\") + _ESCAPED.sub(r"\1", match.group(2)))
            i = match.end()
            continue
        if char == "@" and (match := _MENTION.match(commentary, i)):
            out.append(_ESCAPED.sub(r"\1", match.group(1)))
            i = match.end()
            continue
        if char in RESERVED:
            return "".join(out), i
        out.append(char)
        i += 1
    return "".join(out), None


def grown(seed: str, created: float, per_minute: float, floor: int = 0) -> int:
    """A metric that grows with the post's age, differently per post."""
    minutes = max(0.0, time.time() - created) / 60
    jitter = int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16) % 7
    return floor + jitter + int(minutes * per_minute)


def error(status: int, message: str, *, code: str = "", service_code: int | None = None, **headers: str) -> Response:
    body: dict[str, Any] = {"status": status, "message": message}
    if code:
        body["code"] = code
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return json_response(body, status, headers=dict(headers))


def oauth_error(error_code: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error_code, "error_description": description}, status)


class LinkedInEmulator(PlatformEmulator):
    slug = "linkedin"
    name = "LinkedIn"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._by_author = OwnerIndex(state.lock, "author")  # posts by author (duplicate checks)

    def rules(self) -> list[Rule]:
        """LinkedIn's paths: OAuth on www.linkedin.com, the rest on api.linkedin.com (one prefix here)."""
        return [
            Rule("/oauth/v2/authorization", endpoint="authorize", methods=["GET"]),
            Rule("/oauth/v2/authorization/decide", endpoint="decide", methods=["POST"]),
            Rule("/oauth/v2/accessToken", endpoint="access_token", methods=["POST"]),
            Rule("/v2/userinfo", endpoint="userinfo", methods=["GET"]),
            Rule("/rest/images", endpoint="images_action", methods=["POST"]),
            Rule("/rest/images/<path:urn>", endpoint="get_image", methods=["GET"]),
            Rule("/media-upload/<image_id>", endpoint="upload_image", methods=["PUT"]),
            Rule("/rest/posts", endpoint="create_post", methods=["POST"]),
            Rule("/rest/posts", endpoint="find_posts", methods=["GET"]),
            Rule("/rest/posts/<path:urn>", endpoint="get_post", methods=["GET"]),
            Rule("/rest/posts/<path:urn>", endpoint="delete_post", methods=["DELETE"]),
            Rule("/rest/memberCreatorPostAnalytics", endpoint="post_analytics", methods=["GET"]),
        ]

    def _rules(self) -> oauth.OAuthRules:
        """The shared OAuth consent flow, posting back to LinkedIn's decision path."""
        return oauth.OAuthRules(
            platform=self.slug, name=self.name, decision_path=f"/{self.slug}/oauth/v2/authorization/decide"
        )

    # ------------------------------------------------------------------ faults

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """LinkedIn's answer for an injected fault."""
        kind = fault.kind
        if kind == "lost_response":
            raise DropConnection
        if kind == "refresh_fails":
            return oauth_error(
                "invalid_request", "The provided authorization grant or refresh token is invalid, expired or revoked"
            )
        if kind == "expired_token":
            return error(
                401, "The token used in the request has expired", code="EXPIRED_ACCESS_TOKEN", service_code=65602
            )
        if kind == "rate_limit":
            return error(
                429,
                "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
                code="TOO_MANY_REQUESTS",
                **{"Retry-After": str(fault.retry_after)},
            )
        if kind == "duplicate":
            return error(422, f"Content is a duplicate of urn:li:share:{7_000_000_000_000_000_000 + fault.id}")
        if kind == "invalid":
            return error(422, "ERROR :: /commentary :: String is too long or contains invalid content")
        return error(500, "Internal Server Error", code="INTERNAL_SERVER_ERROR")

    # ------------------------------------------------------------------ helpers

    def _authenticate(self, request: Request) -> tuple[Token | None, Response | None]:
        """The live access token of the call, or LinkedIn's 401 (invalid or expired)."""
        value = bearer(request)
        with self.state.lock:
            token = self.state.tokens.get(value)
        if token is None or token.platform != self.slug or token.kind != "access" or token.revoked:
            return None, error(401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service_code=65600)
        if token.expires_at and token.expires_at <= now():
            return None, error(
                401, "The token used in the request has expired", code="EXPIRED_ACCESS_TOKEN", service_code=65602
            )
        note_account(request, token.account_id)
        return token, None

    def _rest_headers(self, request: Request) -> Response | None:
        """LinkedIn-Version and X-Restli-Protocol-Version, as every versioned REST call requires."""
        version = request.headers.get("LinkedIn-Version", "").strip()
        if not version:
            return error(
                400,
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        if not _is_active_version(version):
            return error(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
        if request.headers.get("X-Restli-Protocol-Version", "").strip() != "2.0.0":
            return error(
                400,
                "This resource requires the header X-Restli-Protocol-Version: 2.0.0",
                code="ILLEGAL_ARGUMENT",
            )
        return None

    def _rest_call(self, request: Request, operation: str, scope: str = "") -> tuple[Token | None, Response | None]:
        """Headers, token, scope and faults, in the order LinkedIn's gateway checks them."""
        refused = self._rest_headers(request)
        if refused is not None:
            return None, refused
        token, refused = self._authenticate(request)
        if refused is not None or token is None:
            return None, refused
        if scope and scope not in token.scopes:
            return None, error(
                403,
                f"Not enough permissions to access this resource (needs {scope})",
                code="ACCESS_DENIED",
                service_code=100,
            )
        fault = self.check_fault(request, operation, token.account_id, token.username)
        if fault is not None:
            if fault.kind == "lost_response" and operation == "publish":
                request.environ["linkedin.lost"] = True
            else:
                return None, self.fault_response(fault, request)
        return token, None

    def _posts(self) -> dict[str, dict[str, Any]]:
        """Posts by URN."""
        return self.store().setdefault("posts", {})

    def _images(self) -> dict[str, dict[str, Any]]:
        """Registered image uploads by URN."""
        return self.store().setdefault("images", {})

    @staticmethod
    def _person(token: Token) -> str:
        """The person URN a token acts as."""
        return f"urn:li:person:{token.account_id}"

    # ------------------------------------------------------------------ OAuth

    def authorize(self, request: Request) -> Response:
        """GET /oauth/v2/authorization: the consent page."""
        return oauth.show_authorize(request, self._rules())

    def decide(self, request: Request) -> Response:
        """POST from the consent page: back to the client with a code or access_denied."""
        return oauth.decide(request, self.state, self._rules())

    def access_token(self, request: Request) -> Response:
        """POST /oauth/v2/accessToken: the authorization_code and refresh_token grants."""
        form = request.form
        grant = form.get("grant_type", "")
        if grant == "authorization_code":
            return self._code_grant(request)
        if grant == "refresh_token":
            return self._refresh_grant(request)
        return oauth_error("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _code_grant(self, request: Request) -> Response:
        """Redeem a code: a 60-day access token and a 365-day refresh token."""
        form = request.form
        fault = self.check_fault(request, "token")
        if fault is not None and fault.kind != "lost_response":
            return self.fault_response(fault, request)
        check = oauth.redeem_code(
            self.state,
            code=form.get("code", ""),
            client_id=form.get("client_id", ""),
            client_secret=form.get("client_secret"),
            redirect_uri=form.get("redirect_uri", ""),
            code_verifier=form.get("code_verifier", ""),
        )
        if check.code is None:
            descriptions = {
                "invalid_client": "Client authentication failed",
                "invalid_grant": "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
                "authorization code. Or authorization code expired.",
            }
            return oauth_error(
                "invalid_request" if check.error == "invalid_grant" else check.error,
                descriptions.get(check.error, "Invalid request"),
                401 if check.error == "invalid_client" else 400,
            )
        auth = check.code
        account_id = account_id_for(self.slug, auth.username)
        note_account(request, account_id)
        access, refresh = self.state.issue_tokens(
            self.slug,
            account_id=account_id,
            username=auth.username,
            scopes=auth.scopes,
            ttl=ACCESS_TTL,
            extra={"display_name": auth.username.replace("_", " ").title()},
        )
        with self.state.lock:
            self.state.tokens[refresh].expires_at = now() + REFRESH_TTL
        if fault is not None:
            raise DropConnection
        return json_response(self._token_body(access, refresh, auth.scopes))

    def _refresh_grant(self, request: Request) -> Response:
        """A new access token; the same refresh token, its expiry unchanged."""
        form = request.form
        if form.get("client_id") != EMULATOR_CLIENT_ID or form.get("client_secret") != EMULATOR_CLIENT_SECRET:
            return oauth_error("invalid_client", "Client authentication failed", 401)
        value = form.get("refresh_token", "")
        refresh = self.state.token(self.slug, value, kind="refresh")
        fault = self.check_fault(request, "refresh", *((refresh.account_id, refresh.username) if refresh else ()))
        if fault is not None and fault.kind != "lost_response":
            return self.fault_response(fault, request)
        if refresh is None:
            return oauth_error(
                "invalid_request", "The provided authorization grant or refresh token is invalid, expired or revoked"
            )
        note_account(request, refresh.account_id)
        access, _ = self.state.issue_tokens(
            self.slug,
            account_id=refresh.account_id,
            username=refresh.username,
            scopes=refresh.scopes,
            ttl=ACCESS_TTL,
            with_refresh=False,
            extra=refresh.extra,
        )
        if fault is not None:
            raise DropConnection
        # The same refresh token comes back, with what is left of its life: refreshing never extends it.
        return json_response(self._token_body(access, value, refresh.scopes, refresh_expires_at=refresh.expires_at))

    def _token_body(
        self, access: str, refresh: str, scopes: tuple[str, ...], refresh_expires_at: datetime | None = None
    ) -> dict[str, Any]:
        """LinkedIn's token response."""
        remaining = REFRESH_TTL
        if refresh_expires_at is not None:
            remaining = refresh_expires_at - now()
        return {
            "access_token": access,
            "expires_in": int(ACCESS_TTL.total_seconds()),
            "refresh_token": refresh,
            "refresh_token_expires_in": max(0, int(remaining.total_seconds())),
            "scope": ",".join(scopes),
            "token_type": "Bearer",
        }

    # ------------------------------------------------------------------ profile

    def userinfo(self, request: Request) -> Response:
        """GET /v2/userinfo: OpenID Connect claims of the member."""
        token, refused = self._authenticate(request)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        if "openid" not in token.scopes:
            return error(403, "Not enough permissions to access: userinfo.GET.NO_VERSION", code="ACCESS_DENIED")
        fault = self.check_fault(request, "profile", token.account_id, token.username)
        if fault is not None:
            return self.fault_response(fault, request)
        display = token.extra.get("display_name") or token.username
        given, _, family = display.partition(" ")
        return json_response(
            {
                "sub": token.account_id,
                "email_verified": True,
                "name": display,
                "given_name": given,
                "family_name": family,
                "locale": {"country": "US", "language": "en"},
                "picture": f"{request.host_url}_media/linkedin-{token.account_id}.png",
            }
        )

    # ------------------------------------------------------------------ images

    def images_action(self, request: Request) -> Response:
        """POST /rest/images?action=initializeUpload: an upload URL and the image URN."""
        if request.args.get("action") != "initializeUpload":
            return error(400, "Unsupported action; expected action=initializeUpload", code="ILLEGAL_ARGUMENT")
        token, refused = self._rest_call(request, "upload", scope="w_member_social")
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        data = request.get_json(force=True, silent=True) or {}
        owner = (data.get("initializeUploadRequest") or {}).get("owner")
        if not owner:
            return error(422, "ERROR :: /initializeUploadRequest/owner :: field is required but not found")
        if owner != self._person(token):
            return error(403, f"Not enough permissions to upload images for {owner}", code="ACCESS_DENIED")
        image_id = f"D{secrets.token_hex(8).upper()}"
        urn = f"urn:li:image:{image_id}"
        expires = int((time.time() + 3600) * 1000)
        with self.state.lock:
            self._images()[urn] = {
                "id": urn,
                "owner": owner,
                "status": "WAITING_UPLOAD",
                "uploadUrlExpiresAt": expires,
                "size": 0,
            }
        return json_response(
            {
                "value": {
                    "uploadUrlExpiresAt": expires,
                    "uploadUrl": f"{request.host_url}{self.slug}/media-upload/{image_id}",
                    "image": urn,
                }
            }
        )

    def upload_image(self, request: Request, image_id: str) -> Response:
        """PUT uploadUrl: the image bytes; the image becomes AVAILABLE."""
        token, refused = self._authenticate(request)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        fault = self.check_fault(request, "upload", token.account_id, token.username)
        if fault is not None and fault.kind != "lost_response":
            return self.fault_response(fault, request)
        urn = f"urn:li:image:{image_id}"
        data = request.get_data(cache=False)
        with self.state.lock:
            image = self._images().get(urn)
            if image is None or image["owner"] != self._person(token):
                return error(404, "Upload URL not found")
            if not data:
                return error(400, "The upload is empty")
            image.update(status="AVAILABLE", size=len(data), mediaType=request.mimetype)
        if fault is not None:
            raise DropConnection
        return Response(status=201)

    def get_image(self, request: Request, urn: str) -> Response:
        """GET /rest/images/{urn}: the image's status."""
        token, refused = self._rest_call(request, "lookup")
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        with self.state.lock:
            image = dict(self._images().get(urn) or {})
        if not image:
            return error(404, f"Image {urn} not found")
        return json_response({"id": urn, "owner": image["owner"], "status": image["status"]})

    # ------------------------------------------------------------------ posts

    def create_post(self, request: Request) -> Response:
        """POST /rest/posts: 201 with the URN in x-restli-id, the commentary read as little text."""
        token, refused = self._rest_call(request, "publish", scope="w_member_social")
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return error(400, "Request body must be a JSON object", code="ILLEGAL_ARGUMENT")
        for field in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
            if field not in body:
                return error(422, f"ERROR :: /{field} :: field is required but not found and has no default value")
        if not isinstance(body["distribution"], dict) or "feedDistribution" not in body["distribution"]:
            return error(422, "ERROR :: /distribution/feedDistribution :: field is required but not found")
        if body["visibility"] not in VISIBILITIES:
            return error(422, f"ERROR :: /visibility :: Invalid enum value {body['visibility']!r}")
        if body["lifecycleState"] not in LIFECYCLE_STATES:
            return error(422, f"ERROR :: /lifecycleState :: Invalid enum value {body['lifecycleState']!r}")
        if body["author"] != self._person(token):
            return error(
                403,
                "Unpermitted fields present in REQUEST_BODY: "
                "Data Processing Exception while processing fields [/author]",
                code="ACCESS_DENIED",
            )
        commentary = body["commentary"]
        if not isinstance(commentary, str):
            return error(422, "ERROR :: /commentary :: expected a string")
        if len(commentary.encode("utf-16-le")) // 2 > MAX_COMMENTARY:
            return error(422, f"ERROR :: /commentary :: length exceeds {MAX_COMMENTARY} characters")
        media_ids, refused = self._content_media(body.get("content"), self._person(token))
        if refused is not None:
            return refused
        shown, cut = read_little(commentary)
        with self.state.lock:
            duplicate = self._duplicate_of(self._person(token), shown, media_ids)
            if duplicate:
                return error(422, f"Content is a duplicate of {duplicate}")
            urn = f"urn:li:share:{7_100_000_000_000_000_000 + self.state.next_id()}"
            stamp = int(time.time() * 1000)
            self._posts()[urn] = {
                "id": urn,
                "author": body["author"],
                # LinkedIn keeps what it understood: the post ends where the parser gave up.
                "commentary": commentary if cut is None else commentary[:cut],
                "visibility": body["visibility"],
                "distribution": body["distribution"],
                "lifecycleState": body["lifecycleState"],
                "isReshareDisabledByAuthor": bool(body.get("isReshareDisabledByAuthor", False)),
                "content": body.get("content"),
                "createdAt": stamp,
                "publishedAt": stamp,
                "lastModifiedAt": stamp,
                # emulator-only fields, for tests (never in API answers)
                "_shown": shown,
                "_sent": commentary,
                "_truncated": cut is not None,
                "_media": media_ids,
                "_created": time.time(),
                "_deleted": False,
            }
            self._by_author.added(self._posts(), self._posts()[urn])
        if request.environ.get("linkedin.lost"):
            raise DropConnection
        return Response(status=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    def _content_media(self, content: Any, owner: str) -> tuple[list[str], Response | None]:
        """The image URNs a post's content refers to, each uploaded by its author; or LinkedIn's 422."""
        if content is None:
            return [], None
        if not isinstance(content, dict):
            return [], error(422, "ERROR :: /content :: expected an object")
        if "media" in content:
            items = [content["media"]]
        elif "multiImage" in content:
            items = (content["multiImage"] or {}).get("images") or []
            if not 2 <= len(items) <= 20:
                return [], error(422, "ERROR :: /content/multiImage/images :: a MultiImage post takes 2 to 20 images")
        else:
            return [], None  # articles, polls…: accepted without checks
        ids = []
        for item in items:
            urn = (item or {}).get("id", "")
            with self.state.lock:
                image = self._images().get(urn)
            if image is None or image["owner"] != owner:
                return [], error(422, f"ERROR :: /content/media/id :: {urn or 'media'} does not exist")
            if image["status"] != "AVAILABLE":
                return [], error(422, f"ERROR :: /content/media/id :: {urn} has not been uploaded")
            ids.append(urn)
        return ids, None

    def _duplicate_of(self, author: str, shown: str, media_ids: list[str]) -> str:
        """The URN of a live post of the author's from the last day with the same text and media, or ""."""
        day_ago = time.time() - 86400
        for post in self._by_author.of(self._posts(), author):
            if (
                not post["_deleted"]
                and post["_created"] >= day_ago
                and post["_shown"] == shown
                and post["_media"] == media_ids
                and (shown or media_ids)
            ):
                return post["id"]
        return ""

    def find_posts(self, request: Request) -> Response:
        """GET /rest/posts?q=author: the author's posts, newest first."""
        token, refused = self._rest_call(request, "lookup")
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        if request.args.get("q") != "author":
            return error(400, "Unsupported finder; expected q=author", code="ILLEGAL_ARGUMENT")
        author = request.args.get("author", "")
        if author != self._person(token):
            return error(
                403, "Not enough permissions to access: partnerApiPostsExternal.FINDER-author", code="ACCESS_DENIED"
            )
        try:
            count = min(100, max(1, int(request.args.get("count", "10"))))
            start = max(0, int(request.args.get("start", "0")))
        except ValueError:
            return error(400, "count and start must be integers", code="ILLEGAL_ARGUMENT")
        with self.state.lock:
            posts = [p for p in self._posts().values() if p["author"] == author and not p["_deleted"]]
            posts.sort(key=lambda p: p["lastModifiedAt"], reverse=True)
            page = [_public(p) for p in posts[start : start + count]]
        paging: dict[str, Any] = {"start": start, "count": count, "links": []}
        if start + count < len(posts):
            query = urlencode({"q": "author", "author": author, "count": count, "start": start + count})
            paging["links"] = [{"rel": "next", "type": "application/json", "href": f"/rest/posts?{query}"}]
        return json_response({"elements": page, "paging": paging})

    def get_post(self, request: Request, urn: str) -> Response:
        """GET /rest/posts/{urn}: one post."""
        token, refused = self._rest_call(request, "lookup")
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        with self.state.lock:
            post = self._posts().get(urn)
            found = _public(post) if post and not post["_deleted"] else None
        if found is None:
            return error(404, f"Post {urn} not found", code="NOT_FOUND")
        return json_response(found)

    def delete_post(self, request: Request, urn: str) -> Response:
        """DELETE /rest/posts/{urn}: 204, or 404 when it is already gone."""
        token, refused = self._rest_call(request, "delete", scope="w_member_social")
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        with self.state.lock:
            post = self._posts().get(urn)
            if post is None or post["_deleted"]:
                return error(404, f"Post {urn} not found", code="NOT_FOUND")
            if post["author"] != self._person(token):
                return error(403, "Not enough permissions to delete this post", code="ACCESS_DENIED")
            post["_deleted"] = True
            post["lifecycleState"] = "DELETED"
        return Response(status=204)

    # ------------------------------------------------------------------ metrics

    def post_analytics(self, request: Request) -> Response:
        """GET /rest/memberCreatorPostAnalytics?q=entity: one metric's total for one post."""
        token, refused = self._rest_call(request, "metrics", scope="r_member_postAnalytics")
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        args = request.args
        if args.get("q") != "entity":
            return error(400, "Unsupported finder; expected q=entity or q=me", code="ILLEGAL_ARGUMENT")
        match = _ENTITY.match(args.get("entity", ""))
        query_type = args.get("queryType", "")
        if match is None:
            return error(400, "entity must look like (share:urn%3Ali%3Ashare%3A123)", code="ILLEGAL_ARGUMENT")
        if query_type not in QUERY_TYPES:
            return error(400, f"queryType must be one of {', '.join(QUERY_TYPES)}", code="ILLEGAL_ARGUMENT")
        kind, urn = match.groups()
        with self.state.lock:
            post = self._posts().get(urn)
        if post is None or post["_deleted"] or post["author"] != self._person(token):
            return error(404, f"No analytics for {urn}", code="NOT_FOUND")
        rates = {"IMPRESSION": 12.0, "MEMBERS_REACHED": 8.0, "REACTION": 0.6, "COMMENT": 0.1, "RESHARE": 0.05}
        count = grown(f"{urn}:{query_type}", post["_created"], rates[query_type])
        element = {"count": count, "metricType": {METRIC_TYPE_KEY: query_type}, "targetEntity": {kind: urn}}
        return json_response({"elements": [element], "paging": {"start": 0, "count": 10, "links": []}})


def _public(post: dict[str, Any]) -> dict[str, Any]:
    """A post as the API returns it (without the emulator's own bookkeeping)."""
    return {key: value for key, value in post.items() if not key.startswith("_") and value is not None}


def _is_active_version(version: str) -> bool:
    """YYYYMM, not in the future, and not older than LinkedIn's roughly one-year support window."""
    if not re.fullmatch(r"\d{6}", version):
        return False
    year, month = int(version[:4]), int(version[4:])
    if not 1 <= month <= 12:
        return False
    today = now()
    age = (today.year - year) * 12 + (today.month - month)
    return 0 <= age <= VERSION_LIFETIME_MONTHS
