"""The Threads API (graph.threads.net), emulated from Meta's documentation.

Written from ../shared/PLATFORMS.md §5 and the Threads docs it cites (overview, get-started,
posts, long-lived tokens, troubleshooting, text attachments, delete posts); never from our
provider. Containers, publishing, listing, insights and errors come from the Graph container
emulator in platforms/instagram.py.

Served under /threads, on the real paths:
  GET  /oauth/authorize                  consent page (POST /oauth/authorize/decide answers it)
  POST /oauth/access_token               code → 1-hour token and user_id
  GET  /access_token                     grant_type=th_exchange_token → 60-day token
  GET  /refresh_access_token             grant_type=th_refresh_token → 60 more days
  GET  /v1.0/me                          id, username, name, threads_profile_picture_url
  POST /v1.0/{user-id}/threads           create a container (TEXT | IMAGE | VIDEO | CAROUSEL)
  GET  /v1.0/{user-id}/threads           published posts, newest first
  POST /v1.0/{user-id}/threads_publish   publish `creation_id` (250 per 24 h)
  GET  /v1.0/{user-id}/threads_publishing_limit
  GET  /v1.0/{id}                        a container (status, error_message) or a post
  DELETE /v1.0/{media-id}                delete a post (needs threads_delete)
  GET  /v1.0/{media-id}/insights         views, likes, replies, reposts, quotes, shares [U]

Text: at most 500 characters, emoji counted as their UTF-8 bytes (posts doc); more than 5
distinct links fails at creation with THREADS_API__LINK_LIMIT_EXCEEDED (text-attachments doc;
the error's exact shape is [U]: we put the name in the message, code 100).

Deliberate deviation: `refresh_access_token` also accepts a token that is expired or younger
than 24 h, because the contract test expires a token and refreshes it at once; Threads refuses
both. The 250-post limit answers code 9 [U: the code is not documented for Threads].
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, ClassVar

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from publishing.emulator import oauth
from publishing.emulator.core import (
    EMULATOR_CLIENT_SECRET,
    DropConnection,
    Token,
    json_response,
    note_account,
)
from publishing.emulator.platforms.instagram import ERROR, EXPIRED, GraphContainerEmulator, pick

VERSION = "v1.0"
MAX_TEXT = 500
MAX_LINKS = 5
SHORT_LIVED = timedelta(hours=1)

# Emoji as the posts doc counts them: pictographs and the characters that join or modify them.
_EMOJI_CHARS = re.compile(
    "[\U0001f000-\U0001faff\U0001f1e6-\U0001f1ff\u2600-\u27bf\u2b00-\u2bff\u200d\ufe0f\u20e3"
    "\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]"
)
_URL = re.compile(
    r"(?i)(?<![\w@.-])(?:https?://[^\s<>\"']+|www\.[^\s<>\"']+|(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|app|dev)\b[^\s<>\"']*)"
)


def counted_length(text: str) -> int:
    """Characters, with each emoji character counted as its UTF-8 bytes."""
    return sum(len(ch.encode("utf-8")) if _EMOJI_CHARS.match(ch) else 1 for ch in text)


def distinct_links(text: str, attachment: str = "") -> int:
    """Unique URLs in the text, plus the link attachment when it differs from them (text-attachments doc)."""

    def key(url: str) -> str:
        url = re.sub(r"(?i)^(https?://)?(www\.)?", "", url.rstrip(".,;:!?)]}'\""))
        return url.lower().rstrip("/")

    links = {key(url) for url in _URL.findall(text)}
    if attachment:
        links.add(key(attachment))
    return len(links)


class ThreadsEmulator(GraphContainerEmulator):
    slug = "threads"
    name = "Threads"

    status_key: ClassVar[str] = "status"
    detail_key: ClassVar[str] = "error_message"
    text_key: ClassVar[str] = "text"
    quota_total: ClassVar[int] = 250
    quota_error: ClassVar[tuple[int, int | None, str]] = (
        9,
        None,
        "The Threads profile reached its limit of 250 API-published posts in 24 hours.",
    )
    rate_limit_code: ClassVar[int] = 4
    max_children: ClassVar[int] = 20
    publish_scope = "threads_content_publish"
    insights_scope = "threads_manage_insights"
    insight_metrics = ("views", "likes", "replies", "reposts", "quotes", "shares")
    container_id_base = 17_960_000_000_000_000
    media_id_base = 18_040_000_000_000_000

    def rules(self) -> list[Rule]:
        return [
            Rule("/oauth/authorize", endpoint="authorize", methods=["GET"]),
            Rule("/oauth/authorize/decide", endpoint="decide", methods=["POST"]),
            Rule("/oauth/access_token", endpoint="access_token", methods=["POST"]),
            Rule("/access_token", endpoint="exchange_token", methods=["GET"]),
            Rule("/refresh_access_token", endpoint="refresh_token", methods=["GET"]),
            Rule(f"/{VERSION}/me", endpoint="me", methods=["GET"]),
            Rule(f"/{VERSION}/<user_id>/threads", endpoint="create_container", methods=["POST"]),
            Rule(f"/{VERSION}/<user_id>/threads", endpoint="list_media", methods=["GET"]),
            Rule(f"/{VERSION}/<user_id>/threads_publish", endpoint="publish_container", methods=["POST"]),
            Rule(f"/{VERSION}/<user_id>/threads_publishing_limit", endpoint="publishing_limit", methods=["GET"]),
            Rule(f"/{VERSION}/<media_id>/insights", endpoint="insights", methods=["GET"]),
            Rule(f"/{VERSION}/<node_id>", endpoint="get_node", methods=["GET"]),
            Rule(f"/{VERSION}/<node_id>", endpoint="delete_node", methods=["DELETE"]),
        ]

    # --------------------------------------------------------------- OAuth and tokens
    def oauth_rules(self) -> oauth.OAuthRules:
        return oauth.OAuthRules(
            platform=self.slug, name=self.name, decision_path=f"/{self.slug}/oauth/authorize/decide"
        )

    def authorize(self, request: Request) -> Response:
        return oauth.show_authorize(request, self.oauth_rules())

    def decide(self, request: Request) -> Response:
        return oauth.decide(request, self.state, self.oauth_rules())

    def access_token(self, request: Request) -> Response:
        """The code exchange: a 1-hour token and the user's id."""
        form = request.form
        refusal, _ = self.begin(request, "token")
        if refusal is not None:
            return refusal
        if form.get("grant_type") != "authorization_code":
            return self.graph_error("Unsupported grant_type.", code=100)
        check = oauth.redeem_code(
            self.state,
            code=form.get("code", ""),
            client_id=form.get("client_id", ""),
            client_secret=form.get("client_secret", ""),
            redirect_uri=form.get("redirect_uri", ""),
            code_verifier="",
        )
        if check.code is None:
            if check.error == "invalid_client":
                return self.graph_error("Error validating application. Invalid application ID.", code=101)
            return self.graph_error("Invalid authorization code.", code=100, subcode=36009)
        body = oauth.issue_for(self.state, check.code, ttl=SHORT_LIVED, with_refresh=False)
        token = self.state.token(self.slug, str(body["access_token"]))
        assert token is not None  # noqa: S101 (just issued)
        note_account(request, token.account_id)
        return json_response({"access_token": body["access_token"], "user_id": int(token.account_id)})

    def exchange_token(self, request: Request) -> Response:
        """`th_exchange_token`: a valid short-lived token becomes a 60-day token."""
        args = request.args
        token = self.state.token(self.slug, args.get("access_token", ""))
        refusal, _ = self.begin(request, "token", *((token.account_id, token.username) if token else ()))
        if refusal is not None:
            return refusal
        if args.get("grant_type") != "th_exchange_token":
            return self.graph_error("Unsupported grant_type.", code=100)
        if args.get("client_secret") != EMULATOR_CLIENT_SECRET:
            return self.graph_error("Error validating application. Invalid application secret.", code=101)
        if token is None:
            return self.graph_error("Error validating access token: Session has expired.", code=190, subcode=463)
        note_account(request, token.account_id)
        return json_response(self.long_lived(token))

    def refresh_token(self, request: Request) -> Response:
        """`th_refresh_token`: 60 more days (lenient about age and expiry; see the module docstring)."""
        args = request.args
        token = self.known_token(args.get("access_token", ""))
        refusal, _ = self.begin(request, "refresh", *((token.account_id, token.username) if token else ()))
        if refusal is not None:
            return refusal
        if args.get("grant_type") != "th_refresh_token":
            return self.graph_error("Unsupported grant_type.", code=100)
        if token is None:
            return self.graph_error("Error validating access token: The token is invalid.", code=190, subcode=467)
        note_account(request, token.account_id)
        return json_response(self.long_lived(token))

    def me(self, request: Request) -> Response:
        token = self.authenticate(request, VERSION)
        if isinstance(token, Response):
            return token
        refusal, _ = self.begin(request, "profile", token.account_id, token.username)
        if refusal is not None:
            return refusal
        note_account(request, token.account_id)
        return json_response(pick(self.user_view(token), request.args.get("fields", ""), ("id",)))

    def user_view(self, token: Token) -> dict[str, Any]:
        return {
            "id": token.account_id,
            "username": token.username,
            "name": token.username.replace("_", " ").title(),
            "threads_profile_picture_url": f"https://scontent.cdninstagram.example/threads/{token.username}.jpg",
            "threads_biography": "Posting through LetsGrow (emulated).",
        }

    # --------------------------------------------------------------- containers
    def build_container(self, params: dict[str, str], owner: str) -> dict[str, Any] | Response:
        media_type = params.get("media_type", "").upper()
        text = params.get("text", "")
        is_item = params.get("is_carousel_item", "").lower() == "true"
        if media_type not in ("TEXT", "IMAGE", "VIDEO", "CAROUSEL"):
            return self.graph_error("(#100) Param media_type must be one of {TEXT, IMAGE, VIDEO, CAROUSEL}", code=100)
        if counted_length(text) > MAX_TEXT:
            return self.graph_error(
                f"(#100) Param text must be at most {MAX_TEXT} characters long.",
                code=100,
                user_message="The post is too long (emoji count as several characters).",
            )
        if distinct_links(text, params.get("link_attachment", "")) > MAX_LINKS:
            return self.graph_error(
                "THREADS_API__LINK_LIMIT_EXCEEDED",
                code=100,
                error_type="THApiException",
                user_message=f"A post can have at most {MAX_LINKS} links.",
            )
        record: dict[str, Any] = {
            "media_type": media_type,
            "text": text,
            "is_carousel_item": is_item,
            "alt_text": params.get("alt_text", ""),
            "image_url": "",
            "video_url": "",
            "children": [],
        }
        if media_type == "TEXT":
            if not text:
                return self.graph_error("(#100) Param text is required for TEXT posts.", code=100)
            return record
        if media_type == "CAROUSEL":
            children = [c.strip() for c in params.get("children", "").split(",") if c.strip()]
            if problem := self.check_children(owner, children):
                return problem
            record["children"] = children
            return record
        key = "image_url" if media_type == "IMAGE" else "video_url"
        url = params.get(key, "")
        if not url:
            return self.graph_error(f"(#100) Param {key} is required for {media_type} posts.", code=100)
        if not self.fetchable(url):
            return self.fetch_failed()
        record[key] = url
        return record

    def fetch_failed(self) -> Response:
        return self.graph_error(
            "Media download has failed. The media URI doesn't meet our requirements.",
            code=9004,
            subcode=2207052,
            user_message="Threads could not fetch the media from its URL.",
        )

    def status_detail(self, container: dict[str, Any]) -> str:
        status = self.status_of(container)
        if status == ERROR:
            return str(container.get("error") or "FAILED_PROCESSING_IMAGE")
        if status == EXPIRED:
            return "EXPIRED_CONTAINER"  # [U] a guess at the error_message wording
        return ""

    def published_type(self, container: dict[str, Any]) -> str:
        return {"TEXT": "TEXT_POST", "CAROUSEL": "CAROUSEL_ALBUM"}.get(container["media_type"], container["media_type"])

    def permalink(self, shortcode: str, username: str) -> str:
        return f"https://www.threads.com/@{username}/post/{shortcode}"

    def delete_node(self, request: Request, node_id: str, version: str = VERSION) -> Response:
        """Delete one of the user's posts (`threads_delete`)."""
        token = self.authenticate(request, version)
        if isinstance(token, Response):
            return token
        note_account(request, token.account_id)
        if denied := self.missing_scope(token, "threads_delete"):
            return denied
        refusal, lose = self.begin(request, "delete", token.account_id, token.username)
        if refusal is not None:
            return refusal
        with self.state.lock:
            media = self.media().get(node_id)
            if media is None or media["owner"] != token.account_id or media["deleted"]:
                return self.not_found(node_id, "delete")
            media["deleted"] = True
        if lose:
            raise DropConnection
        return json_response({"success": True, "deleted_id": node_id})
