"""Facebook Pages on the Graph API, as Meta documents it (PLATFORMS.md §3).

Written from developers.facebook.com (Facebook Login, pages-api/getting-started and posts,
graph-api error-handling, rate-limiting, multiple-ID reads, the 2025 metric deprecations) and
PLATFORMS.md; never from our provider. What it imitates, and where it had to guess ([U]):
- Facebook Login: the dialog at `/{version}/dialog/oauth`, a GET token endpoint that returns a
  short-lived user token, `grant_type=fb_exchange_token` for a long-lived one. `/me/accounts`
  hands out one Page token per Page; a Page token derived from a long-lived user token never
  expires, one from a short-lived token dies with it [U].
- Each person manages three Pages here: two with every task, one where they may only ANALYZE
  (so a client must not offer it for publishing).
- Errors are `{"error": {message, type, code, error_subcode, fbtrace_id}}`, mostly with HTTP 400:
  190 (463 expired) token, 80001 + `X-Business-Use-Case-Usage` for Page-token throttling,
  4 + `X-App-Usage` for user-token throttling, 506 duplicate (two identical posts in a row),
  100 invalid parameter (subcode 33: the object does not exist), 2 + is_transient for a 5xx.
  [U] `estimated_time_to_regain_access` is whole minutes; the emulator rounds down, so a
  sub-minute wait shows as 0.
- Views are `post_total_media_view_unique`; asking for a `post_impressions*` metric fails, as
  it does for every version since 2025-11-15. Counts grow with a post's age.
- `appsecret_proof` is checked when sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

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

SHORT_TTL = timedelta(hours=2)
LONG_TTL = timedelta(days=60)
MAX_MESSAGE = 63_206
ALL_TASKS = ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]
# (key, name pattern, category, tasks) of the Pages each person manages.
PAGES = (
    ("page", "{name}", "Brand", ALL_TASKS),
    ("shop", "{name} Shop", "Shopping & Retail", ALL_TASKS),
    ("fans", "{name} Fan Club", "Community", ["ANALYZE"]),
)
POST_FIELDS = frozenset(
    {
        "id",
        "message",
        "created_time",
        "updated_time",
        "permalink_url",
        "reactions",
        "comments",
        "shares",
        "is_published",
        "status_type",
        "from",
        "full_picture",
    }
)
PAGE_FIELDS = frozenset({"id", "name", "username", "access_token", "tasks", "picture", "category", "category_list"})
VIEW_METRICS = {"post_total_media_view_unique": 9.0, "post_total_media_view": 14.0}
DEPRECATED_METRIC = re.compile(r"^post_impressions")
_VERSION = re.compile(r"^v\d+\.\d+$")


def grown(seed: str, created: float, per_minute: float) -> int:
    """A count that grows with the post's age, differently per post."""
    minutes = max(0.0, time.time() - created) / 60
    return int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16) % 5 + int(minutes * per_minute)


def graph_error(
    message: str,
    code: int,
    *,
    status: int = 400,
    subcode: int | None = None,
    kind: str = "OAuthException",
    transient: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_urlsafe(8)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return json_response({"error": error}, status, headers=headers)


def not_found(node_id: str) -> Response:
    return graph_error(
        f"Unsupported get request. Object with ID '{node_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation.",
        100,
        subcode=33,
        kind="GraphMethodException",
    )


def field_specs(fields: str) -> dict[str, str]:
    """`a,b.summary(true){x,y},c` → {"a": "a", "b": "b.summary(true){x,y}", "c": "c"} (top-level commas only)."""
    specs: dict[str, str] = {}
    depth, current = 0, ""
    for char in fields + ",":
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        if char == "," and depth == 0:
            spec = current.strip()
            if spec:
                specs[re.split(r"[.{(]", spec, maxsplit=1)[0]] = spec
            current = ""
        else:
            current += char
    return specs


def graph_time(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class FacebookEmulator(PlatformEmulator):
    slug = "facebook"
    name = "Facebook"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._by_page = OwnerIndex(state.lock, "page_id")  # posts by Page (the last post, for 506)

    def rules(self) -> list[Rule]:
        """Graph's paths, each under a `/{version}` segment."""
        return [
            Rule("/<version>/dialog/oauth", endpoint="authorize", methods=["GET"]),
            Rule("/<version>/dialog/oauth/decide", endpoint="decide", methods=["POST"]),
            Rule("/<version>/oauth/access_token", endpoint="access_token", methods=["GET"]),
            Rule("/<version>/me", endpoint="me", methods=["GET"]),
            Rule("/<version>/me/accounts", endpoint="me_accounts", methods=["GET"]),
            Rule("/<version>/", endpoint="read_many", methods=["GET"]),
            Rule("/<version>/<node_id>", endpoint="read_node", methods=["GET"]),
            Rule("/<version>/<node_id>", endpoint="delete_node", methods=["DELETE"]),
            Rule("/<version>/<page_id>/feed", endpoint="publish_feed", methods=["POST"]),
            Rule("/<version>/<page_id>/feed", endpoint="list_posts", methods=["GET"]),
            Rule("/<version>/<page_id>/published_posts", endpoint="list_published", methods=["GET"]),
            Rule("/<version>/<page_id>/photos", endpoint="publish_photo", methods=["POST"]),
            Rule("/<version>/<post_id>/insights", endpoint="insights", methods=["GET"]),
        ]

    def _rules(self, version: str) -> oauth.OAuthRules:
        """The shared OAuth consent flow, posting back to the versioned dialog path."""
        return oauth.OAuthRules(
            platform=self.slug, name=self.name, decision_path=f"/{self.slug}/{version}/dialog/oauth/decide"
        )

    # ------------------------------------------------------------------ faults

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Graph's answer for an injected fault; throttling headers depend on the token kind."""
        page_id = request.environ.get("facebook.page", "")
        kind = fault.kind
        if kind == "lost_response":
            raise DropConnection
        if kind == "expired_token":
            return graph_error(
                "Error validating access token: Session has expired on Sunday, 01-Nov-26 00:00:00 PDT. "
                "The current time is later.",
                190,
                subcode=463,
            )
        if kind == "refresh_fails":
            return graph_error(
                "Error validating access token: The session has been invalidated because the user changed their "
                "password or Facebook has changed the session for security reasons.",
                190,
                subcode=460,
            )
        if kind == "rate_limit":
            if page_id:
                usage = {
                    page_id: [
                        {
                            "type": "pages",
                            "call_count": 100,
                            "total_cputime": 34,
                            "total_time": 41,
                            "estimated_time_to_regain_access": fault.retry_after // 60,
                        }
                    ]
                }
                return graph_error(
                    "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
                    80001,
                    headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
                )
            return graph_error(
                "(#4) Application request limit reached",
                4,
                headers={"X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 25, "total_time": 30})},
            )
        if kind == "duplicate":
            return graph_error("(#506) Duplicate status message", 506)
        if kind == "invalid":
            return graph_error("(#100) Invalid parameter", 100)
        return graph_error(
            "An unexpected error has occurred. Please retry your request later.", 2, status=500, transient=True
        )

    def _fault(self, request: Request, operation: str, *accounts: str) -> tuple[Fault | None, Response | None]:
        """(a lost_response fault to apply after the work, or the answer for any other fault)."""
        fault = self.check_fault(request, operation, *accounts)
        if fault is None:
            return None, None
        if fault.kind == "lost_response":
            return fault, None
        return None, self.fault_response(fault, request)

    # ------------------------------------------------------------------ tokens

    def _authenticate(self, request: Request, version: str) -> tuple[Token | None, Response | None]:
        """The live token of the call (query, form or Authorization header), or Graph's error."""
        if not _VERSION.match(version):
            return None, graph_error(f"Unknown path components: /{version}", 2500)
        header = request.headers.get("Authorization", "")
        value = request.values.get("access_token") or bearer(request)
        if not value and header.lower().startswith("oauth "):
            value = header[6:].strip()
        if not value:
            return None, graph_error("An access token is required to request this resource.", 104)
        with self.state.lock:
            token = self.state.tokens.get(value)
        if token is None or token.platform != self.slug or token.revoked:
            return None, graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        if token.expires_at and token.expires_at <= now():
            return None, graph_error(
                f"Error validating access token: Session has expired on {token.expires_at:%A, %d-%b-%y %H:%M:%S} UTC.",
                190,
                subcode=463,
            )
        proof = request.values.get("appsecret_proof")
        if proof is not None:
            expected = hmac.new(EMULATOR_CLIENT_SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(proof, expected):
                return None, graph_error(
                    "Invalid appsecret_proof provided in the API argument", 100, kind="GraphMethodException"
                )
        if token.extra.get("kind") == "page":
            request.environ["facebook.page"] = token.account_id
        note_account(request, token.account_id)
        return token, None

    def _page_access(
        self, request: Request, version: str, page_id: str, *, publishing: bool
    ) -> tuple[Token | None, Response | None]:
        """The token may act for `page_id`: its own Page token, or (reading) a user token of a manager."""
        token, refused = self._authenticate(request, version)
        if refused is not None or token is None:
            return None, refused
        with self.state.lock:
            page = dict(self._pages().get(page_id) or {})
        if not page:
            return None, not_found(page_id)
        request.environ["facebook.page"] = page_id
        note_account(request, page_id)
        is_page_token = token.extra.get("kind") == "page" and token.account_id == page_id
        manages = token.extra.get("kind") == "user" and page["owner"] == token.username
        if publishing:
            allowed = (
                is_page_token
                and "CREATE_CONTENT" in page["tasks"]
                and {"pages_manage_posts", "pages_read_engagement"} <= set(token.scopes)
            )
            if not allowed:
                return None, graph_error(
                    "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an "
                    "admin with sufficient administrative permission",
                    200,
                )
        elif not (is_page_token or manages):
            return None, graph_error("(#10) This endpoint requires the 'pages_read_engagement' permission", 10)
        return token, None

    def _pages(self) -> dict[str, dict[str, Any]]:
        """Pages by id."""
        return self.store().setdefault("pages", {})

    def _posts(self) -> dict[str, dict[str, Any]]:
        """Page posts by `{page_id}_{post_id}`."""
        return self.store().setdefault("posts", {})

    def _photos(self) -> dict[str, dict[str, Any]]:
        """Photos by id."""
        return self.store().setdefault("photos", {})

    # ------------------------------------------------------------------ Facebook Login

    def authorize(self, request: Request, version: str) -> Response:
        """GET /{version}/dialog/oauth: the consent page."""
        return oauth.show_authorize(request, self._rules(version))

    def decide(self, request: Request, version: str) -> Response:
        """POST from the consent page: back to the client with a code or access_denied."""
        return oauth.decide(request, self.state, self._rules(version))

    def access_token(self, request: Request, version: str) -> Response:
        """GET /{version}/oauth/access_token: a code for a short-lived user token, or fb_exchange_token."""
        args = request.args
        if args.get("client_id") != EMULATOR_CLIENT_ID:
            return graph_error("Error validating application. Invalid application ID.", 101)
        if args.get("client_secret") != EMULATOR_CLIENT_SECRET:
            return graph_error("Error validating client secret.", 1)
        if args.get("grant_type") == "fb_exchange_token":
            return self._exchange(request)
        fault, answer = self._fault(request, "token")
        if answer is not None:
            return answer
        check = oauth.redeem_code(
            self.state,
            code=args.get("code", ""),
            client_id=args.get("client_id", ""),
            client_secret=args.get("client_secret"),
            redirect_uri=args.get("redirect_uri", ""),
            code_verifier=args.get("code_verifier", ""),
        )
        if check.code is None:
            return graph_error(
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you "
                "used in the OAuth dialog request",
                100,
                subcode=36008,
            )
        auth = check.code
        user_id = account_id_for(self.slug, auth.username)
        note_account(request, user_id)
        access, _ = self.state.issue_tokens(
            self.slug,
            account_id=user_id,
            username=auth.username,
            scopes=auth.scopes,
            ttl=SHORT_TTL,
            with_refresh=False,
            extra={"kind": "user", "long_lived": False},
        )
        if fault is not None:
            raise DropConnection
        return json_response(
            {"access_token": access, "token_type": "bearer", "expires_in": int(SHORT_TTL.total_seconds())}
        )

    def _exchange(self, request: Request) -> Response:
        """grant_type=fb_exchange_token: a long-lived (60-day) user token."""
        value = request.args.get("fb_exchange_token", "")
        user = self.state.token(self.slug, value)
        fault, answer = self._fault(request, "refresh", *((user.account_id, user.username) if user else ()))
        if answer is not None:
            return answer
        if user is None or user.extra.get("kind") != "user":
            return graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        note_account(request, user.account_id)
        access, _ = self.state.issue_tokens(
            self.slug,
            account_id=user.account_id,
            username=user.username,
            scopes=user.scopes,
            ttl=LONG_TTL,
            with_refresh=False,
            extra={"kind": "user", "long_lived": True},
        )
        if fault is not None:
            raise DropConnection
        return json_response(
            {"access_token": access, "token_type": "bearer", "expires_in": int(LONG_TTL.total_seconds())}
        )

    # ------------------------------------------------------------------ people and Pages

    def me(self, request: Request, version: str) -> Response:
        """GET /{version}/me: the person, or the Page for a Page token."""
        token, refused = self._authenticate(request, version)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        _, answer = self._fault(request, "profile", token.account_id, token.username)
        if answer is not None:
            return answer
        if token.extra.get("kind") == "page":
            with self.state.lock:
                page = dict(self._pages().get(token.account_id) or {})
            return json_response({"id": token.account_id, "name": page.get("name", "")})
        return json_response({"id": token.account_id, "name": _display(token.username)})

    def me_accounts(self, request: Request, version: str) -> Response:
        """GET /{version}/me/accounts: the person's Pages, each with a fresh Page token."""
        token, refused = self._authenticate(request, version)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        if token.extra.get("kind") != "user":
            return graph_error("(#100) Tried accessing nonexisting field (accounts) on node type (Page)", 100)
        _, answer = self._fault(request, "profile", token.account_id, token.username)
        if answer is not None:
            return answer
        if "pages_show_list" not in token.scopes:
            return json_response({"data": []})
        specs = field_specs(request.args.get("fields", "")) or dict.fromkeys(
            ("access_token", "category", "category_list", "name", "id", "tasks")
        )
        unknown = set(specs) - PAGE_FIELDS
        if unknown:
            return graph_error(
                f"(#100) Tried accessing nonexisting field ({sorted(unknown)[0]}) on node type (Page)", 100
            )
        data = []
        for key, pattern, category, tasks in PAGES:
            page_id = account_id_for(self.slug, f"page:{token.username}:{key}")
            page = {
                "id": page_id,
                "name": pattern.format(name=_display(token.username)),
                "username": f"{re.sub(r'[^a-z0-9]', '', token.username.lower())}.{key}",
                "category": category,
                "category_list": [{"id": str(2200 + len(category)), "name": category}],
                "tasks": list(tasks),
                "owner": token.username,
            }
            with self.state.lock:
                self._pages()[page_id] = page
            # A Page token lives as long as the user token it came from; from a long-lived one, forever.
            page_token, _ = self.state.issue_tokens(
                self.slug,
                account_id=page_id,
                username=token.username,
                scopes=token.scopes,
                ttl=None if token.extra.get("long_lived") else SHORT_TTL,
                with_refresh=False,
                extra={"kind": "page", "user_id": token.account_id},
            )
            full = {
                **{k: v for k, v in page.items() if k != "owner"},
                "access_token": page_token,
                "picture": {
                    "data": {
                        "height": 50,
                        "is_silhouette": False,
                        "url": f"{request.host_url}_media/facebook-page-{page_id}.png",
                        "width": 50,
                    }
                },
            }
            data.append({"id": page_id, **{name: full[name] for name in specs if name in full}})
        cursor = secrets.token_urlsafe(12)
        return json_response({"data": data, "paging": {"cursors": {"before": cursor, "after": cursor}}})

    # ------------------------------------------------------------------ publishing

    def publish_feed(self, request: Request, version: str, page_id: str) -> Response:
        """POST /{version}/{page_id}/feed: a post with message, link or attached photos."""
        token, refused = self._page_access(request, version, page_id, publishing=True)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        lost, answer = self._fault(request, "publish", page_id, token.username)
        if answer is not None:
            return answer
        values = _values(request)
        message = values.get("message", "")
        link = values.get("link", "")
        attached = _attached_media(values)
        if attached is None:
            return graph_error("(#100) param attached_media must be an array of objects with media_fbid", 100)
        if not message and not link and not attached:
            return graph_error("(#100) Missing message or attachment", 100)
        if len(message) > MAX_MESSAGE:
            return graph_error("(#100) The message is too long", 100)
        if link and not link.startswith(("http://", "https://")):
            return graph_error("(#100) The parameter link is not a valid URL", 100)
        with self.state.lock:
            photos = self._photos()
            for media_fbid in attached:
                photo = photos.get(media_fbid)
                if photo is None or photo["page_id"] != page_id or photo["published"] or photo["post_id"]:
                    return graph_error(f"(#100) Photo {media_fbid} is not an unpublished photo of this Page", 100)
            if not attached and self._repeats_last_post(page_id, message, link):
                return graph_error("(#506) Duplicate status message", 506)
            post_id = self._new_post(page_id, message, link=link, photos=attached, published=_published(values))
            for media_fbid in attached:
                photos[media_fbid]["post_id"] = post_id
        if lost is not None:
            raise DropConnection
        return json_response({"id": post_id})

    def publish_photo(self, request: Request, version: str, page_id: str) -> Response:
        """POST /{version}/{page_id}/photos: a photo by upload or URL, published or not."""
        token, refused = self._page_access(request, version, page_id, publishing=True)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        values = _values(request)
        published = _published(values)
        lost, answer = self._fault(request, "publish" if published else "upload", page_id, token.username)
        if answer is not None:
            return answer
        source = request.files.get("source")
        url = values.get("url", "")
        size = 0
        if source is not None:
            content = source.read()
            size = len(content)
            if not size or not (source.mimetype or "").startswith("image/"):
                return graph_error("(#324) Missing or invalid image file", 324)
        elif url:
            if not url.startswith(("http://", "https://")):
                return graph_error("(#100) url should represent a valid URL", 100)
        else:
            return graph_error("(#324) Requires upload file", 324)
        caption = values.get("caption") or values.get("message") or ""
        if len(caption) > MAX_MESSAGE:
            return graph_error("(#100) The message is too long", 100)
        with self.state.lock:
            photo_id = str(10_000_000_000 + self.state.next_id())
            self._photos()[photo_id] = {
                "id": photo_id,
                "page_id": page_id,
                "published": published,
                "post_id": "",
                "size": size,
                "url": url,
                "alt_text": values.get("alt_text_custom", ""),
            }
            body: dict[str, str] = {"id": photo_id}
            if published:
                post_id = self._new_post(page_id, caption, photos=[photo_id], published=True)
                self._photos()[photo_id]["post_id"] = post_id
                body["post_id"] = post_id
        if lost is not None:
            raise DropConnection
        return json_response(body)

    def _new_post(self, page_id: str, message: str, *, link: str = "", photos: list[str], published: bool) -> str:
        """Store a post and return its id."""
        post_id = f"{page_id}_{20_000_000_000 + self.state.next_id()}"
        posts = self._posts()
        posts[post_id] = {
            "id": post_id,
            "page_id": page_id,
            "message": message,
            "link": link,
            "photos": list(photos),
            "is_published": published,
            "created": time.time(),
            "deleted": False,
        }
        self._by_page.added(posts, posts[post_id])
        return post_id

    def _repeats_last_post(self, page_id: str, message: str, link: str) -> bool:
        """Meta's 506: the same status twice in a row on one Page."""
        posts = [p for p in self._by_page.of(self._posts(), page_id) if not p["deleted"]]
        if not posts:
            return False
        last = max(posts, key=lambda p: p["created"])
        return not last["photos"] and last["message"] == message and last["link"] == link

    # ------------------------------------------------------------------ reading

    def list_posts(self, request: Request, version: str, page_id: str) -> Response:
        """GET /{version}/{page_id}/feed."""
        return self._list(request, version, page_id)

    def list_published(self, request: Request, version: str, page_id: str) -> Response:
        """GET /{version}/{page_id}/published_posts."""
        return self._list(request, version, page_id)

    def _list(self, request: Request, version: str, page_id: str) -> Response:
        """A Page's published posts, newest first, with the requested fields."""
        token, refused = self._page_access(request, version, page_id, publishing=False)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        _, answer = self._fault(request, "lookup", page_id, token.username)
        if answer is not None:
            return answer
        specs = field_specs(request.args.get("fields", "")) or dict.fromkeys(("created_time", "message", "id"))
        unknown = set(specs) - POST_FIELDS
        if unknown:
            return graph_error(
                f"(#100) Tried accessing nonexisting field ({sorted(unknown)[0]}) on node type (PagePost)", 100
            )
        try:
            limit = min(100, max(1, int(request.args.get("limit", "25"))))
        except ValueError:
            return graph_error("(#100) limit must be an integer", 100)
        with self.state.lock:
            posts = [
                p for p in self._posts().values() if p["page_id"] == page_id and not p["deleted"] and p["is_published"]
            ]
            posts.sort(key=lambda p: p["created"], reverse=True)
            data = [self._post_fields(p, specs) for p in posts[:limit]]
        cursor = secrets.token_urlsafe(12)
        return json_response({"data": data, "paging": {"cursors": {"before": cursor, "after": cursor}}})

    def read_many(self, request: Request, version: str) -> Response:
        """GET /{version}/?ids=…: several posts at once; one missing id fails them all."""
        token, refused = self._authenticate(request, version)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        if not ids:
            return graph_error("(#100) Must specify ids or an object id", 100)
        specs = field_specs(request.args.get("fields", "")) or {"id": "id"}
        with self.state.lock:
            posts = {i: self._posts().get(i) for i in ids}
        missing = [i for i, post in posts.items() if post is None or post["deleted"]]
        if missing:
            return graph_error(f"(#100) Some of the aliases you requested do not exist: {','.join(missing)}", 100)
        pages = {post["page_id"] for post in posts.values() if post}
        if any(not self._may_read(token, page_id) for page_id in pages):
            return graph_error("(#10) This endpoint requires the 'pages_read_engagement' permission", 10)
        for page_id in pages:
            note_account(request, page_id)
        _, answer = self._fault(request, _read_operation(specs), *pages, token.username)
        if answer is not None:
            return answer
        unknown = set(specs) - POST_FIELDS
        if unknown:
            return graph_error(
                f"(#100) Tried accessing nonexisting field ({sorted(unknown)[0]}) on node type (PagePost)", 100
            )
        with self.state.lock:
            return json_response({i: self._post_fields(post, specs) for i, post in posts.items() if post})

    def read_node(self, request: Request, version: str, node_id: str) -> Response:
        """GET /{version}/{id}: a post or a Page."""
        token, refused = self._authenticate(request, version)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        specs = field_specs(request.args.get("fields", ""))
        with self.state.lock:
            post = self._posts().get(node_id)
            page = self._pages().get(node_id)
        if page is not None and self._may_read(token, node_id):
            note_account(request, node_id)
            return json_response({"id": node_id, "name": page["name"]})
        if post is None or post["deleted"] or not self._may_read(token, post["page_id"]):
            return not_found(node_id)
        note_account(request, post["page_id"])
        _, answer = self._fault(request, _read_operation(specs), post["page_id"], token.username)
        if answer is not None:
            return answer
        specs = specs or dict.fromkeys(("created_time", "message", "id"))
        unknown = set(specs) - POST_FIELDS
        if unknown:
            return graph_error(
                f"(#100) Tried accessing nonexisting field ({sorted(unknown)[0]}) on node type (PagePost)", 100
            )
        with self.state.lock:
            return json_response(self._post_fields(post, specs))

    def delete_node(self, request: Request, version: str, node_id: str) -> Response:
        """DELETE /{version}/{post_id}: {"success": true}."""
        token, refused = self._authenticate(request, version)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        with self.state.lock:
            post = self._posts().get(node_id)
        if post is None or post["deleted"]:
            return not_found(node_id)
        note_account(request, post["page_id"])
        request.environ["facebook.page"] = post["page_id"]
        if not (token.extra.get("kind") == "page" and token.account_id == post["page_id"]):
            return graph_error("(#200) Permissions error", 200)
        _, answer = self._fault(request, "delete", post["page_id"], token.username)
        if answer is not None:
            return answer
        with self.state.lock:
            post["deleted"] = True
        return json_response({"success": True})

    def insights(self, request: Request, version: str, post_id: str) -> Response:
        """GET /{version}/{post_id}/insights?metric=…: lifetime view counts."""
        token, refused = self._authenticate(request, version)
        if refused is not None or token is None:
            return refused  # type: ignore[return-value]
        with self.state.lock:
            post = self._posts().get(post_id)
        if post is None or post["deleted"] or not self._may_read(token, post["page_id"]):
            return not_found(post_id)
        note_account(request, post["page_id"])
        request.environ["facebook.page"] = post["page_id"]
        _, answer = self._fault(request, "metrics", post["page_id"], token.username)
        if answer is not None:
            return answer
        if "read_insights" not in token.scopes:
            return graph_error("(#10) Requires read_insights permission", 10)
        metrics = [m for m in request.args.get("metric", "").split(",") if m]
        if not metrics:
            return graph_error("(#100) The parameter metric is required", 100)
        for metric in metrics:
            if DEPRECATED_METRIC.match(metric) or metric not in VIEW_METRICS:
                return graph_error("(#100) The value must be a valid insights metric", 100)
        data = [
            {
                "name": metric,
                "period": "lifetime",
                "values": [{"value": grown(f"{post_id}:{metric}", post["created"], VIEW_METRICS[metric])}],
                "title": "Lifetime Post Total Media Views" + (" (Unique Users)" if metric.endswith("unique") else ""),
                "description": "Lifetime: the number of times the post's media was viewed.",
                "id": f"{post_id}/insights/{metric}/lifetime",
            }
            for metric in metrics
        ]
        return json_response({"data": data, "paging": {"previous": "", "next": ""}})

    # ------------------------------------------------------------------ helpers

    def _may_read(self, token: Token, page_id: str) -> bool:
        """Whether the token may read the Page's posts."""
        if token.extra.get("kind") == "page":
            return token.account_id == page_id
        with self.state.lock:
            page = self._pages().get(page_id) or {}
        return page.get("owner") == token.username and "pages_read_engagement" in token.scopes

    def _post_fields(self, post: dict[str, Any], specs: dict[str, str]) -> dict[str, Any]:
        """A post with the requested fields, its counts grown with age."""
        created, post_id = post["created"], post["id"]
        page = self._pages().get(post["page_id"]) or {}
        out: dict[str, Any] = {"id": post_id}
        for name, spec in specs.items():
            if name == "message" and post["message"]:
                out["message"] = post["message"]
            elif name in ("created_time", "updated_time"):
                out[name] = graph_time(created)
            elif name == "permalink_url":
                out[name] = f"https://www.facebook.com/{post_id.replace('_', '/posts/')}"
            elif name == "is_published":
                out[name] = post["is_published"]
            elif name == "status_type":
                out[name] = (
                    "added_photos" if post["photos"] else "shared_story" if post["link"] else "mobile_status_update"
                )
            elif name == "from":
                out[name] = {"name": page.get("name", ""), "id": post["page_id"]}
            elif name == "full_picture" and post["photos"]:
                out[name] = f"https://scontent.example/{post['photos'][0]}.jpg"
            elif name == "reactions":
                out[name] = self._edge(spec, grown(f"{post_id}:reactions", created, 0.8), {"viewer_reaction": "NONE"})
            elif name == "comments":
                count = grown(f"{post_id}:comments", created, 0.15)
                out[name] = self._edge(spec, count, {"order": "ranked", "can_comment": True})
            elif name == "shares":
                shares = grown(f"{post_id}:shares", created, 0.05)
                if shares:  # Graph leaves `shares` out of a post nobody shared
                    out[name] = {"count": shares}
        return out

    @staticmethod
    def _edge(spec: str, total: int, summary_extra: dict[str, Any]) -> dict[str, Any]:
        """A connection edge with a summary only when `.summary(…)` was asked for."""
        edge: dict[str, Any] = {"data": []}
        if ".summary(" in spec:
            edge["summary"] = {"total_count": total, **summary_extra}
        return edge


def _values(request: Request) -> dict[str, str]:
    """Graph takes parameters in the query, a form or JSON alike."""
    values: dict[str, str] = dict(request.values.items())
    if request.is_json:
        body = request.get_json(silent=True) or {}
        if isinstance(body, dict):
            values.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
    return values


def _attached_media(values: dict[str, str]) -> list[str] | None:
    """The media_fbids of `attached_media[0]=…` fields or an `attached_media` JSON list; None if malformed."""
    raw: list[Any] = []
    indexed = sorted(
        ((int(m.group(1)), v) for k, v in values.items() if (m := re.fullmatch(r"attached_media\[(\d+)\]", k))),
        key=lambda pair: pair[0],
    )
    try:
        raw.extend(json.loads(value) for _, value in indexed)
        if "attached_media" in values:
            listed = json.loads(values["attached_media"])
            raw.extend(listed if isinstance(listed, list) else [listed])
    except ValueError:
        return None
    ids = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("media_fbid"):
            return None
        ids.append(str(item["media_fbid"]))
    return ids


def _published(values: dict[str, str]) -> bool:
    return values.get("published", "true").lower() not in ("false", "0")


def _read_operation(specs: dict[str, str]) -> str:
    return "metrics" if {"reactions", "comments", "shares"} & set(specs) else "lookup"


def _display(username: str) -> str:
    return username.replace("_", " ").replace(".", " ").title()
