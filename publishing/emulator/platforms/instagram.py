"""Instagram's Graph API (Facebook Login for Business), emulated from Meta's documentation.

Written from ../shared/PLATFORMS.md §4 and the pages it cites (content-publishing guide, IG
Container, media_publish, content_publishing_limit and insights references, Instagram error
codes, the Graph error-handling and rate-limiting guides); never from our provider.

Served under /instagram, on Graph's real paths with the version segment:
  GET  /{v}/dialog/oauth                      consent page (POST …/decide answers it)
  GET  /{v}/oauth/access_token (also unversioned)   code → short-lived user token;
                                              grant_type=fb_exchange_token → 60-day token
  GET  /{v}/me, /{v}/me/accounts              the user and their Pages (+ instagram_business_account)
  POST /{v}/{ig-user-id}/media                create a container (image_url | video_url + REELS |
                                              is_carousel_item | CAROUSEL + children)
  GET  /{v}/{ig-user-id}/media                published media, newest first
  POST /{v}/{ig-user-id}/media_publish        publish `creation_id`
  GET  /{v}/{ig-user-id}/content_publishing_limit
  GET  /{v}/{id}                              a container (status_code, status), a media or the user
  GET  /{v}/{media-id}/insights               views, reach, likes, … growing with time
  DELETE /{v}/{id}                            refused: the API cannot delete media [U]

Containers are IN_PROGRESS for a moment, then FINISHED; PUBLISHED once published; EXPIRED when
left unpublished for 24 h. Image and video URLs are fetched for real, from loopback only (the
emulator never leaves this machine); anything else fails like Meta, code 9004/2207052 [U].
The 24-hour limit of 50 published posts answers code 9/2207042.

Deliberate deviations: the token exchange accepts an *expired* (but known) token, because the
contract test expires tokens and then refreshes them; Meta requires a valid one. Rate-limit
faults write `estimated_time_to_regain_access` in fractional minutes so the fault's seconds
survive; Meta writes whole minutes [U].

`GraphContainerEmulator` is the part Threads shares (platforms/threads.py imports it).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from publishing.emulator import oauth
from publishing.emulator.core import (
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    DropConnection,
    Fault,
    PlatformEmulator,
    Token,
    account_id_for,
    bearer,
    json_response,
    note_account,
)

IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED = "IN_PROGRESS", "FINISHED", "PUBLISHED", "ERROR", "EXPIRED"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
LONG_LIVED = timedelta(days=60)
VERSION = re.compile(r"^v\d+\.\d+$")


def graph_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_fields(value: str) -> list[tuple[str, list[str]]]:
    """`a,b{c,d},e` → [("a", []), ("b", ["c", "d"]), ("e", [])] (one level of nesting is enough here)."""
    result: list[tuple[str, list[str]]] = []
    for match in re.finditer(r"\s*([\w.]+)\s*(?:\{([^}]*)\})?\s*(?:,|$)", value or ""):
        name, nested = match.group(1), match.group(2)
        if name:
            result.append((name, [n.strip() for n in nested.split(",") if n.strip()] if nested else []))
    return result


def pick(obj: dict[str, Any], fields: str, default: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """Graph answers only the fields asked for (and `id`)."""
    names = [name for name, _ in parse_fields(fields)] or list(default)
    result = {"id": obj["id"]} if "id" in obj else {}
    for name in names:
        if name in obj and obj[name] is not None:
            result[name] = obj[name]
    return result


class GraphContainerEmulator(PlatformEmulator):
    """Graph-style containers → publish, media listing, insights, limits and errors (Instagram, Threads)."""

    status_key: ClassVar[str] = "status_code"
    detail_key: ClassVar[str] = "status"
    text_key: ClassVar[str] = "caption"
    quota_total: ClassVar[int] = 50
    quota_error: ClassVar[tuple[int, int | None, str]] = (
        9,
        2207042,
        "You reached maximum number of posts that is allowed to be published by Content Publishing API.",
    )
    rate_limit_code: ClassVar[int] = 80002  # Business Use Case limit, Instagram [U]
    max_children: ClassVar[int] = 10
    processing_seconds: ClassVar[float] = 0.2  # "IN_PROGRESS briefly"
    video_processing_seconds: ClassVar[float] = 0.6
    container_ttl: ClassVar[float] = 24 * 3600.0
    publish_scope: ClassVar[str] = ""
    insights_scope: ClassVar[str] = ""
    insight_metrics: ClassVar[tuple[str, ...]] = ()
    container_id_base: ClassVar[int] = 0
    media_id_base: ClassVar[int] = 0

    # --------------------------------------------------------------- errors
    def graph_error(
        self,
        message: str,
        *,
        code: int | str,
        subcode: int | None = None,
        status: int = 400,
        error_type: str = "OAuthException",
        transient: bool = False,
        headers: dict[str, str] | None = None,
        user_message: str = "",
    ) -> Response:
        """The Graph error envelope (error-handling guide)."""
        error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        error["is_transient"] = transient
        if user_message:
            error["error_user_msg"] = user_message
        error["fbtrace_id"] = secrets.token_urlsafe(12)
        return json_response({"error": error}, status, headers)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Each fault kind as Meta documents it."""
        if fault.kind == "expired_token":
            return self.graph_error(
                "Error validating access token: Session has expired on Thursday, 01-Jan-26 00:00:00 PST.",
                code=190,
                subcode=463,
            )
        if fault.kind == "refresh_fails":
            return self.graph_error(
                "Error validating access token: The session has been invalidated because the user changed "
                "their password or Facebook has changed the session for security reasons.",
                code=190,
                subcode=460,
            )
        if fault.kind == "rate_limit":
            # Business Use Case usage: per business object, minutes until calls are allowed again.
            usage = {
                self.business_id(): [
                    {
                        "type": self.slug,
                        "call_count": 100,
                        "total_cputime": 40,
                        "total_time": 60,
                        "estimated_time_to_regain_access": round(fault.retry_after / 60, 4),
                    }
                ]
            }
            return self.graph_error(
                "There have been too many calls. Wait a bit and try again.",
                code=self.rate_limit_code,
                transient=True,
                headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
            )
        if fault.kind == "duplicate":
            return self.graph_error("Duplicate Post", code=506, user_message="This content was already posted.")
        if fault.kind == "invalid":
            return self.graph_error("(#100) Invalid parameter", code=100)
        return self.graph_error("Service temporarily unavailable", code=2, status=500, transient=True)

    def business_id(self) -> str:
        return account_id_for(self.slug, "business")

    def begin(self, request: Request, operation: str, *accounts: str) -> tuple[Response | None, bool]:
        """(the fault's answer, or None; whether to drop the connection after doing the work)."""
        fault = self.check_fault(request, operation, *accounts)
        if fault is None:
            return None, False
        if fault.kind == "lost_response":
            return None, True
        return self.fault_response(fault, request), False

    def not_found(self, node_id: str, verb: str = "get") -> Response:
        return self.graph_error(
            f"Unsupported {verb} request. Object with ID '{node_id}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation.",
            code=100,
            subcode=33,
            error_type="GraphMethodException",
        )

    # --------------------------------------------------------------- auth
    def token_value(self, request: Request) -> str:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("oauth "):
            return header[6:].strip()
        return bearer(request) or request.args.get("access_token", "") or request.form.get("access_token", "")

    def authenticate(self, request: Request, version: str) -> Token | Response:
        """The live token of this call (header or `access_token`), or Graph's answer why not."""
        if not VERSION.match(version):
            return self.graph_error(f"Unknown path components: /{version}", code=2500)
        value = self.token_value(request)
        if not value:
            return self.graph_error("An access token is required to request this resource.", code=104)
        token = self.state.token(self.slug, value)
        if token is None:
            return self.graph_error(
                "Error validating access token: Session has expired or the token is invalid.", code=190, subcode=463
            )
        return token

    def known_token(self, value: str) -> Token | None:
        """A token this platform issued and did not revoke, *even if expired* (see the module docstring)."""
        with self.state.lock:
            token = self.state.tokens.get(value)
        if token is None or token.platform != self.slug or token.kind != "access" or token.revoked:
            return None
        return token

    def missing_scope(self, token: Token, scope: str) -> Response | None:
        if scope and scope not in token.scopes:
            return self.graph_error("(#10) Application does not have permission for this action", code=10, status=403)
        return None

    def long_lived(self, token: Token) -> dict[str, Any]:
        access, _ = self.state.issue_tokens(
            self.slug,
            account_id=token.account_id,
            username=token.username,
            scopes=token.scopes,
            ttl=LONG_LIVED,
            with_refresh=False,
        )
        return {"access_token": access, "token_type": "bearer", "expires_in": int(LONG_LIVED.total_seconds())}

    @staticmethod
    def params(request: Request) -> dict[str, str]:
        values = {**request.args.to_dict(flat=True), **request.form.to_dict(flat=True)}
        values.pop("access_token", None)
        return values

    # --------------------------------------------------------------- store
    def containers(self) -> dict[str, dict[str, Any]]:
        return self.store().setdefault("containers", {})

    def media(self) -> dict[str, dict[str, Any]]:
        return self.store().setdefault("media", {})

    def publishes(self) -> dict[str, list[float]]:
        return self.store().setdefault("publishes", {})

    def status_of(self, container: dict[str, Any]) -> str:
        if container.get("published_media_id"):
            return PUBLISHED
        if container.get("error"):
            return ERROR
        now = time.time()
        if now - container["created_at"] > self.container_ttl:
            return EXPIRED
        if now < container["ready_at"]:
            return IN_PROGRESS
        return FINISHED

    def status_detail(self, container: dict[str, Any]) -> str:
        raise NotImplementedError

    def quota_usage(self, owner: str) -> int:
        since = time.time() - 24 * 3600
        return sum(1 for at in self.publishes().get(owner, []) if at > since)

    def fetchable(self, url: str) -> bool:
        """Fetch the media as Meta would: over HTTP(S), here from loopback only."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
            return False
        try:
            response = requests.get(url, timeout=3)
        except requests.RequestException:
            return False
        return response.status_code == 200 and bool(response.content)

    def fetch_failed(self) -> Response:
        return self.graph_error(
            "Media download has failed. The media URI doesn't meet our requirements.",
            code=9004,
            subcode=2207052,
            user_message="The media could not be fetched from the URI.",
        )

    def check_children(self, owner: str, children: list[str]) -> Response | None:
        if not 2 <= len(children) <= self.max_children:
            return self.graph_error(f"(#100) A carousel takes between 2 and {self.max_children} children.", code=100)
        for child_id in children:
            child = self.containers().get(child_id)
            if child is None or child["owner"] != owner or not child.get("is_carousel_item"):
                return self.graph_error(f"(#100) Invalid child container {child_id}.", code=100)
            if self.status_of(child) != FINISHED:
                return self.graph_error(
                    f"(#100) Child container {child_id} is not ready.",
                    code=9007,
                    subcode=2207027,
                    user_message="The media is not ready for publishing, please wait for a moment",
                )
        return None

    def build_container(self, params: dict[str, str], owner: str) -> dict[str, Any] | Response:
        """Validate a container request in the platform's terms; the record to store, or an error."""
        raise NotImplementedError

    def published_type(self, container: dict[str, Any]) -> str:
        raise NotImplementedError

    def permalink(self, shortcode: str, username: str) -> str:
        raise NotImplementedError

    # --------------------------------------------------------------- containers and publishing
    def publisher_call(
        self, request: Request, user_id: str, version: str, operation: str
    ) -> Response | tuple[Any, bool]:
        """Check a publishing call made for `user_id`: token, ownership, scope, faults.

        Returns the refusal to send, or (the token, whether the response is to be lost after the work).
        """
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        note_account(request, user_id)
        if token.account_id != user_id:
            return self.not_found(user_id, "post")
        if denied := self.missing_scope(token, self.publish_scope):
            return denied
        refusal, lose = self.begin(request, operation, user_id, token.username)
        return refusal if refusal is not None else (token, lose)

    def create_container(self, request: Request, user_id: str, version: str = "v1.0") -> Response:
        checked = self.publisher_call(request, user_id, version, "prepare")
        if isinstance(checked, Response):
            return checked
        _token, lose = checked
        record = self.build_container(self.params(request), user_id)
        if isinstance(record, Response):
            return record
        now = time.time()
        delay = self.video_processing_seconds if record.get("video_url") else self.processing_seconds
        container_id = str(self.container_id_base + self.state.next_id())
        record.update(
            id=container_id, owner=user_id, created_at=now, ready_at=now + delay, published_media_id="", error=""
        )
        with self.state.lock:
            self.containers()[container_id] = record
        if lose:
            raise DropConnection
        return json_response({"id": container_id})

    def publish_container(self, request: Request, user_id: str, version: str = "v1.0") -> Response:
        checked = self.publisher_call(request, user_id, version, "publish")
        if isinstance(checked, Response):
            return checked
        token, lose = checked
        creation_id = self.params(request).get("creation_id", "")
        with self.state.lock:
            container = self.containers().get(creation_id)
            if container is None or container["owner"] != user_id:
                return self.graph_error(
                    "Media ID is not available", code=9007, subcode=2207006, user_message="The media was not found."
                )
            status = self.status_of(container)
            if status == EXPIRED:
                return self.graph_error(
                    "The media you are trying to access has expired. Please try to upload again.",
                    code=-2,
                    subcode=2207020,
                )
            if status == IN_PROGRESS:
                return self.graph_error(
                    "Media ID is not available",
                    code=9007,
                    subcode=2207027,
                    user_message="The media is not ready for publishing, please wait for a moment",
                )
            if status == ERROR:
                return self.graph_error("The media could not be processed.", code=-1, subcode=2207032)
            if status == PUBLISHED:
                return self.graph_error("(#100) This media container has already been published.", code=100)
            if container.get("is_carousel_item"):
                return self.graph_error("(#100) A carousel item cannot be published on its own.", code=100)
            if self.quota_usage(user_id) >= self.quota_total:
                code, subcode, message = self.quota_error
                return self.graph_error(message, code=code, subcode=subcode)
            now = time.time()
            media_id = str(self.media_id_base + self.state.next_id())
            shortcode = base64.urlsafe_b64encode(int(media_id).to_bytes(8, "big")).decode().rstrip("=")
            self.media()[media_id] = {
                "id": media_id,
                "owner": user_id,
                "username": token.username,
                self.text_key: container.get("text", ""),
                "media_type": self.published_type(container),
                "media_url": container.get("image_url") or container.get("video_url") or None,
                "permalink": self.permalink(shortcode, token.username),
                "shortcode": shortcode,
                "timestamp": graph_time(now),
                "published_at": now,
                "container_id": creation_id,
                "deleted": False,
            }
            container["published_media_id"] = media_id
            self.publishes().setdefault(user_id, []).append(now)
        if lose:
            raise DropConnection
        return json_response({"id": media_id})

    def list_media(self, request: Request, user_id: str, version: str = "v1.0") -> Response:
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        note_account(request, user_id)
        if token.account_id != user_id:
            return self.not_found(user_id)
        refusal, lose = self.begin(request, "lookup", user_id, token.username)
        if refusal is not None:
            return refusal
        args = request.args
        try:
            limit = max(1, min(int(args.get("limit") or 25), 100))
            offset = int(base64.urlsafe_b64decode(args["after"]).decode()) if args.get("after") else 0
        except ValueError:
            return self.graph_error("(#100) Invalid limit or cursor.", code=100)
        with self.state.lock:
            mine = [m for m in self.media().values() if m["owner"] == user_id and not m["deleted"]]
        mine.sort(key=lambda m: (m["published_at"], int(m["id"])), reverse=True)
        page = mine[offset : offset + limit]
        body: dict[str, Any] = {"data": [pick(m, args.get("fields", "")) for m in page]}
        if page:
            cursor = base64.urlsafe_b64encode(str(offset + len(page)).encode()).decode()
            before = base64.urlsafe_b64encode(str(offset).encode()).decode()
            body["paging"] = {"cursors": {"before": before, "after": cursor}}
            if offset + len(page) < len(mine):
                body["paging"]["next"] = f"{request.base_url}?limit={limit}&after={cursor}"
        if lose:
            raise DropConnection
        return json_response(body)

    def get_node(self, request: Request, node_id: str, version: str = "v1.0") -> Response:
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        note_account(request, token.account_id)
        refusal, _ = self.begin(request, "lookup", token.account_id, token.username)
        if refusal is not None:
            return refusal
        fields = request.args.get("fields", "")
        with self.state.lock:
            container = self.containers().get(node_id)
            media = self.media().get(node_id)
        if container is not None and container["owner"] == token.account_id:
            view = {
                "id": node_id,
                self.status_key: self.status_of(container),
                self.detail_key: self.status_detail(container),
            }
            return json_response(pick(view, fields))
        if media is not None and media["owner"] == token.account_id and not media["deleted"]:
            return json_response(pick(media, fields))
        if node_id == token.account_id:
            return json_response(pick(self.user_view(token), fields))
        return self.not_found(node_id)

    def user_view(self, token: Token) -> dict[str, Any]:
        raise NotImplementedError

    def delete_node(self, request: Request, node_id: str, version: str = "v1.0") -> Response:
        raise NotImplementedError

    def publishing_limit(self, request: Request, user_id: str, version: str = "v1.0") -> Response:
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        note_account(request, user_id)
        if token.account_id != user_id:
            return self.not_found(user_id)
        refusal, _ = self.begin(request, "lookup", user_id, token.username)
        if refusal is not None:
            return refusal
        entry = {
            "quota_usage": self.quota_usage(user_id),
            "config": {"quota_total": self.quota_total, "quota_duration": 86400},
        }
        fields = [name for name, _ in parse_fields(request.args.get("fields", ""))] or ["quota_usage"]
        return json_response({"data": [{k: v for k, v in entry.items() if k in fields}]})

    def metric_values(self, media: dict[str, Any]) -> dict[str, int]:
        """Counts that grow with the post's age (about two views a second), different per post."""
        age = max(0.0, time.time() - media["published_at"])
        views = int(age * 2) + int(media["id"]) % 7 + 1
        likes = views // 8
        return {
            "views": views,
            "reach": views * 3 // 4,
            "likes": likes,
            "comments": views // 40,
            "replies": views // 40,
            "shares": views // 60,
            "saved": views // 50,
            "reposts": views // 80,
            "quotes": views // 200,
            "total_interactions": likes + views // 40 + views // 60 + views // 50,
        }

    def insights(self, request: Request, media_id: str, version: str = "v1.0") -> Response:
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        note_account(request, token.account_id)
        if denied := self.missing_scope(token, self.insights_scope):
            return denied
        refusal, _ = self.begin(request, "metrics", token.account_id, token.username)
        if refusal is not None:
            return refusal
        with self.state.lock:
            media = self.media().get(media_id)
        if media is None or media["owner"] != token.account_id or media["deleted"]:
            return self.not_found(media_id)
        names = [n.strip() for n in request.args.get("metric", "").split(",") if n.strip()]
        if not names:
            return self.graph_error("(#100) The parameter metric is required", code=100)
        for index, name in enumerate(names):
            if name not in self.insight_metrics:
                allowed = ", ".join(self.insight_metrics)
                return self.graph_error(
                    f"(#100) metric[{index}] must be one of the following values: {allowed}", code=100
                )
        values = self.metric_values(media)
        data = [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": values[name]}],
                "title": name.replace("_", " ").title(),
                "description": f"The number of {name.replace('_', ' ')} of this post.",
                "id": f"{media_id}/insights/{name}/lifetime",
            }
            for name in names
        ]
        return json_response({"data": data})


class InstagramEmulator(GraphContainerEmulator):
    slug = "instagram"
    name = "Instagram"

    publish_scope = "instagram_content_publish"
    insights_scope = "instagram_manage_insights"
    insight_metrics = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")
    container_id_base = 17_889_000_000_000_000
    media_id_base = 17_912_000_000_000_000
    max_caption = 2200

    def rules(self) -> list[Rule]:
        return [
            Rule("/<version>/dialog/oauth", endpoint="authorize", methods=["GET"]),
            Rule("/<version>/dialog/oauth/decide", endpoint="decide", methods=["POST"]),
            Rule("/<version>/oauth/access_token", endpoint="access_token", methods=["GET", "POST"]),
            Rule("/oauth/access_token", endpoint="access_token", methods=["GET", "POST"]),
            Rule("/<version>/me", endpoint="me", methods=["GET"]),
            Rule("/<version>/me/accounts", endpoint="me_accounts", methods=["GET"]),
            Rule("/<version>/<user_id>/media", endpoint="create_container", methods=["POST"]),
            Rule("/<version>/<user_id>/media", endpoint="list_media", methods=["GET"]),
            Rule("/<version>/<user_id>/media_publish", endpoint="publish_container", methods=["POST"]),
            Rule("/<version>/<user_id>/content_publishing_limit", endpoint="publishing_limit", methods=["GET"]),
            Rule("/<version>/<media_id>/insights", endpoint="insights", methods=["GET"]),
            Rule("/<version>/<node_id>", endpoint="get_node", methods=["GET"]),
            Rule("/<version>/<node_id>", endpoint="delete_node", methods=["DELETE"]),
        ]

    # --------------------------------------------------------------- Facebook Login
    def oauth_rules(self, version: str) -> oauth.OAuthRules:
        return oauth.OAuthRules(
            platform=self.slug,
            name="Instagram (Facebook Login)",
            decision_path=f"/{self.slug}/{version}/dialog/oauth/decide",
        )

    def authorize(self, request: Request, version: str) -> Response:
        return oauth.show_authorize(request, self.oauth_rules(version))

    def decide(self, request: Request, version: str) -> Response:
        return oauth.decide(request, self.state, self.oauth_rules(version))

    def access_token(self, request: Request, version: str = "") -> Response:
        """The code exchange, or `grant_type=fb_exchange_token` for a long-lived token."""
        params = self.params(request)
        if params.get("client_id") != EMULATOR_CLIENT_ID or params.get("client_secret") != EMULATOR_CLIENT_SECRET:
            return self.graph_error("Error validating application. Invalid application ID.", code=101)
        if params.get("grant_type") == "fb_exchange_token":
            token = self.known_token(params.get("fb_exchange_token", ""))
            accounts = (token.account_id, token.username) if token else ()
            refusal, _ = self.begin(request, "refresh", *accounts)
            if refusal is not None:
                return refusal
            if token is None:
                return self.graph_error("Error validating access token: The token is invalid.", code=190, subcode=467)
            note_account(request, token.account_id)
            return json_response(self.long_lived(token))
        refusal, _ = self.begin(request, "token")
        if refusal is not None:
            return refusal
        check = oauth.redeem_code(
            self.state,
            code=params.get("code", ""),
            client_id=params.get("client_id", ""),
            client_secret=params.get("client_secret"),
            redirect_uri=params.get("redirect_uri", ""),
            code_verifier=params.get("code_verifier", ""),
        )
        if check.code is None:
            return self.graph_error(
                "This authorization code has expired, was used already, or does not match the redirect_uri.",
                code=100,
                subcode=36009,
            )
        body = oauth.issue_for(self.state, check.code, ttl=timedelta(hours=1), with_refresh=False)
        body.pop("scope", None)  # Facebook's answer is access_token, token_type, expires_in
        return json_response(body)

    def me(self, request: Request, version: str) -> Response:
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        refusal, _ = self.begin(request, "profile", token.account_id, token.username)
        if refusal is not None:
            return refusal
        note_account(request, token.account_id)
        user = {"id": account_id_for("facebook-user", token.username), "name": token.username.replace("_", " ").title()}
        return json_response(pick(user, request.args.get("fields", ""), ("id", "name")))

    def me_accounts(self, request: Request, version: str) -> Response:
        """The user's Pages: one linked to the Instagram professional account, one without."""
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        refusal, _ = self.begin(request, "profile", token.account_id, token.username)
        if refusal is not None:
            return refusal
        note_account(request, token.account_id)
        if "pages_show_list" not in token.scopes:
            return self.graph_error("(#10) Application does not have permission for this action", code=10, status=403)
        title = token.username.replace("_", " ").title()
        ig_account = {
            "id": token.account_id,
            "username": token.username,
            "name": title,
            "profile_picture_url": f"https://scontent.cdninstagram.example/{token.username}.jpg",
        }
        pages = [
            {"id": account_id_for("facebook-page", token.username), "name": f"{title} Page", "ig": ig_account},
            {"id": account_id_for("facebook-page", token.username + "-2"), "name": f"{title} Club", "ig": None},
        ]
        fields = parse_fields(request.args.get("fields", "")) or [("id", []), ("name", [])]
        data = []
        for page in pages:
            entry: dict[str, Any] = {}
            for name, nested in fields:
                if name == "instagram_business_account":
                    if page["ig"]:
                        entry[name] = pick(page["ig"], ",".join(nested))
                elif name in ("id", "name"):
                    entry[name] = page[name]
            entry.setdefault("id", page["id"])
            data.append(entry)
        return json_response({"data": data, "paging": {"cursors": {"before": "QVFIUmJl", "after": "QVFIUmFm"}}})

    # --------------------------------------------------------------- containers
    def build_container(self, params: dict[str, str], owner: str) -> dict[str, Any] | Response:
        caption = params.get("caption", "")
        if len(caption) > self.max_caption:
            return self.graph_error(
                f"(#100) The caption is too long: at most {self.max_caption} characters.", code=100, subcode=2207010
            )
        media_type = params.get("media_type", "").upper()
        is_item = params.get("is_carousel_item", "").lower() == "true"
        record: dict[str, Any] = {
            "media_type": media_type or "IMAGE",
            "text": caption,
            "is_carousel_item": is_item,
            "alt_text": params.get("alt_text", ""),
            "image_url": "",
            "video_url": "",
            "children": [],
        }
        if media_type == "CAROUSEL":
            children = [c.strip() for c in params.get("children", "").split(",") if c.strip()]
            if problem := self.check_children(owner, children):
                return problem
            record["children"] = children
            return record
        if media_type in ("REELS", "VIDEO"):
            if media_type == "VIDEO" and not is_item:
                return self.graph_error(
                    "(#100) The VIDEO media type is for carousel items; use REELS.", code=100, subcode=2207023
                )
            url = params.get("video_url", "")
            if not url:
                return self.graph_error("(#100) The parameter video_url is required.", code=100)
            if not self.fetchable(url):
                return self.fetch_failed()
            record["video_url"] = url
            return record
        if media_type not in ("", "IMAGE"):
            return self.graph_error(
                f"(#100) Param media_type must be one of {{CAROUSEL, REELS, STORIES, VIDEO, IMAGE}}: {media_type}",
                code=100,
                subcode=2207023,
            )
        url = params.get("image_url", "")
        if not url:
            return self.graph_error("(#100) The parameter image_url is required.", code=100)
        if not self.fetchable(url):
            return self.fetch_failed()
        record["image_url"] = url
        return record

    def status_detail(self, container: dict[str, Any]) -> str:
        return {
            IN_PROGRESS: "In Progress: Media is still being processed.",
            FINISHED: "Finished: Media has been uploaded and it is ready to be published.",
            PUBLISHED: "Published: Media has been successfully published.",
            EXPIRED: "Expired: Media was not published within 24 hours.",
            ERROR: f"Error: {container.get('error') or 'Media could not be processed.'}",
        }[self.status_of(container)]

    def published_type(self, container: dict[str, Any]) -> str:
        if container["media_type"] == "CAROUSEL":
            return "CAROUSEL_ALBUM"
        return "VIDEO" if container.get("video_url") else "IMAGE"

    def permalink(self, shortcode: str, username: str) -> str:
        return f"https://www.instagram.com/p/{shortcode}/"

    def user_view(self, token: Token) -> dict[str, Any]:
        with self.state.lock:
            count = sum(1 for m in self.media().values() if m["owner"] == token.account_id and not m["deleted"])
        return {
            "id": token.account_id,
            "username": token.username,
            "name": token.username.replace("_", " ").title(),
            "profile_picture_url": f"https://scontent.cdninstagram.example/{token.username}.jpg",
            "media_count": count,
            "followers_count": 1200,
        }

    def delete_node(self, request: Request, node_id: str, version: str = "v1.0") -> Response:
        """Refused: the Instagram API offers no delete for published media [U]."""
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        note_account(request, token.account_id)
        refusal, _ = self.begin(request, "delete", token.account_id, token.username)
        if refusal is not None:
            return refusal
        return self.not_found(node_id, "delete")
