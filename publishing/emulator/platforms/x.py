"""X API v2, emulated from PLATFORMS.md §1 and X's OpenAPI document v2.167 (../shared/specs/).

Served under /x on X's real paths: the consent page (/i/oauth2/authorize, and the spec's
/2/oauth2/authorize), /2/oauth2/token and /2/oauth2/revoke, /2/users/me, posts
(/2/tweets, /2/tweets/<id>, /2/users/<id>/tweets), the chunked media upload
(/2/media/upload/initialize, …/<id>/append, …/<id>/finalize, GET /2/media/upload?command=STATUS)
and alt text (/2/media/metadata).

Written from the documentation, never from our provider. Choices where the sources are
silent or disagree, marked [U]:
- [U] Refresh tokens rotate: a used refresh token stops working (the stricter reading).
- [U] Post text comes back with links wrapped in t.co, a trailing t.co link for attached
  media, and `&`, `<`, `>` HTML-escaped, as X has long done.
- [U] Text over 280 weighted characters and more than one cashtag are refused with 400
  invalid-request problems; the exact wording is ours.
- [U] Deleting a post that does not exist answers 404 resource-not-found.
- The spec (v2.167) names metrics `repost_count` and the fields parameter `post.fields`;
  the documentation says `retweet_count` and `tweet.fields`. Both are accepted and sent.
- Weighted length is counted here from the documented configuration (twitter-text v3:
  code points in 0-4351, 8192-8205, 8208-8223 and 8242-8247 weigh 1, everything else 2,
  an emoji sequence 2, a URL 23, after NFC), not with the library the provider uses.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import secrets
import string
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import regex
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

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
    redirect_to,
)
from publishing.emulator.oauth import OAuthRules, decide, issue_for, redeem_code, show_authorize


def _words(text: str) -> frozenset[str]:
    """A set of names written as one space-separated string (copied from the spec)."""
    return frozenset(text.split())


ACCESS_TOKEN_TTL = timedelta(hours=2)
MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
DUPLICATE_WINDOW_SECONDS = 24 * 3600
# POST /2/tweets: 100 requests per 15 minutes per user (rate-limits.mdx).
CREATE_LIMIT, CREATE_WINDOW_SECONDS = 100, 15 * 60
MEDIA_EXPIRES_AFTER_SECONDS = 24 * 3600
MAX_SEGMENT_BYTES = 5 * 1024 * 1024
TWITTER_EPOCH_MS = 1288834974657

PROBLEMS = "https://api.x.com/2/problems"
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."

# securitySchemes.OAuth2UserToken.flows.authorizationCode.scopes
KNOWN_SCOPES = _words(
    "block.read bookmark.read bookmark.write broadcast.read broadcast.write dm.read dm.write follows.read "
    "follows.write like.read like.write list.read list.write media.write mute.read mute.write "
    "offline.access space.read timeline.read tweet.moderate.write tweet.read tweet.write users.read"
)
# CreatePostsRequest (additionalProperties: false) and CreatePostsMedia.
CREATE_FIELDS = _words(
    "card_uri community_id direct_message_deep_link edit_options for_super_followers_only geo "
    "made_with_ai media nullcast paid_partnership poll quote_tweet_id reply reply_settings "
    "share_with_followers text"
)
CREATE_MEDIA_FIELDS = frozenset(
    ["call_to_actions", "description", "embeddable", "media_ids", "preview_media_id", "tagged_user_ids", "title"]
)
BOOLEAN_FIELDS = ("for_super_followers_only", "made_with_ai", "nullcast", "paid_partnership", "share_with_followers")
REPLY_SETTINGS = frozenset({"following", "mentionedUsers", "subscribers", "verified"})
# InitializeMediaUploadRequest (additionalProperties: false).
INITIALIZE_FIELDS = frozenset({"additional_owners", "media_category", "media_type", "shared", "total_bytes"})
MEDIA_TYPES = _words(
    "video/mp4 video/webm video/mp2t video/quicktime text/srt text/vtt image/jpeg image/gif image/bmp "
    "image/png image/webp image/pjpeg image/tiff model/gltf-binary model/vnd.usdz+zip"
)
MEDIA_CATEGORIES = frozenset(
    {"amplify_video", "tweet_gif", "tweet_image", "tweet_video", "dm_gif", "dm_image", "dm_video", "subtitles"}
)
MAX_TOTAL_BYTES = 17179869184
# Media best practices: images 5 MB, animated GIFs 15 MB, videos 512 MB.
CATEGORY_LIMITS = {"tweet_image": 5 * 1024 * 1024, "tweet_gif": 15 * 1024 * 1024, "tweet_video": 512 * 1024 * 1024}
MEDIA_KEY_PREFIX = {"tweet_image": "3", "tweet_gif": "16", "tweet_video": "7", "amplify_video": "13"}
# Leading bytes of each image type, to refuse a file that is not what it claims.
MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/pjpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
# PostFieldsParameter's enum, the older edit_history_tweet_ids, and UserFieldsParameter's enum.
POST_FIELDS = _words(
    "article article_title attachments author_id card_uri community_id context_annotations "
    "conversation_id created_at display_text_range edit_controls edit_history_post_ids "
    "edit_history_tweet_ids entities geo id in_reply_to_user_id lang matched_media_notes media_metadata "
    "non_public_metrics note_post note_request_suggestions organic_metrics paid_partnership "
    "possibly_sensitive promoted_metrics public_metrics referenced_tweets reply_settings scopes source "
    "suggested_source_links suggested_source_links_with_counts text withheld"
)
USER_FIELDS = _words(
    "affiliation confirmed_email connection_status created_at description entities id "
    "is_identity_verified location most_recent_post_id name parody pinned_post_id profile_banner_url "
    "profile_image_url protected public_metrics receives_your_dm subscribes_to_you subscription "
    "subscription_type url username verified verified_followers_count verified_type withheld"
)
_NUMERIC_ID = regex.compile(r"[0-9]{1,19}")

# ----------------------------------------------------------------------------- weighted length

_WEIGHT_ONE_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_TLDS = (
    "com|org|net|edu|gov|io|co|app|dev|ai|me|ly|gl|be|tv|us|uk|de|fr|es|it|nl|ca|au|jp|in|info|biz|xyz|news|blog|"
    "social|link|site|online|tech|page|so|to|fm|sh|gg"
)
# A link runs over printable ASCII but for `"`, `<` and `>` (twitter-text stops at other characters too).
_URL = regex.compile(
    rf"""(?ix)
    (?<![\w@.$/-])
    (?:
        https?://[!#-;=?-~]+
      | (?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})(?![\w-])(?::\d{{1,5}})?(?:/[!#-;=?-~]*)?
    )
    """
)
_TRAILING_PUNCTUATION = ".,:;!?'\")]}"
_EMOJI_START = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]")
_CASHTAG = regex.compile(r"(?<![\w$])\$[A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?(?!\w)")
_GRAPHEME = regex.compile(r"\X")


def normalise_text(text: str) -> str:
    """NFC, with CRLF and CR line endings counted as one newline."""
    return unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")


def find_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) of each link X would wrap in t.co, without trailing punctuation."""
    if "." not in text and ":" not in text:  # every link has a "://" or a "." before its domain
        return []
    spans = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
            # Keep a closing parenthesis that closes one inside the link (Wikipedia-style links).
            if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
                break
            end -= 1
        spans.append((start, end))
    return spans


@functools.lru_cache(maxsize=4096)
def _grapheme_weight(grapheme: str) -> int:
    if _EMOJI_START.match(grapheme) or "\u20e3" in grapheme or (len(grapheme) > 1 and "\ufe0f" in grapheme):
        return 2  # one emoji, however many code points (ZWJ sequences, skin tones, flags, keycaps)
    return sum(1 if any(lo <= ord(c) <= hi for lo, hi in _WEIGHT_ONE_RANGES) else 2 for c in grapheme)


def _weight(text: str) -> int:
    # ASCII is all in the weight-1 range and holds no emoji: each character weighs 1.
    if text.isascii():
        return len(text)
    return sum(_grapheme_weight(g) for g in _GRAPHEME.findall(text))


def weighted_length(text: str) -> int:
    """X's weighted length: 1 for most Latin and punctuation, 2 for emoji and CJK, 23 per URL."""
    text = normalise_text(text)
    total, position = 0, 0
    for start, end in find_urls(text):
        total += _weight(text[position:start]) + URL_WEIGHT
        position = end
    return total + _weight(text[position:])


# ----------------------------------------------------------------------------- responses


def _problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> Response:
    body = {"title": title, "detail": detail, "type": type_, "status": status, **extra}
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def _invalid(message: str, parameter: str = "", value: str = "") -> Response:
    """X's 400: an invalid-request problem carrying the specifics in `errors`."""
    error: dict[str, Any] = {"message": message}
    if parameter:
        error["parameters"] = {parameter: [value]}
    extra: dict[str, Any] = {"errors": [error]}
    if parameter:
        extra["parameter"] = parameter
    return _problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        f"{PROBLEMS}/invalid-request",
        **extra,
    )


def _not_found(resource_type: str, parameter: str, value: str) -> dict[str, Any]:
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{PROBLEMS}/resource-not-found",
    }


def _unauthorized() -> Response:
    return _problem(401, "Unauthorized", "Unauthorized")


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _tco() -> str:
    alphabet = string.ascii_letters + string.digits
    return "https://t.co/" + "".join(secrets.choice(alphabet) for _ in range(10))


def _fields(request: Request, *names: str, allowed: frozenset[str]) -> tuple[set[str], Response | None]:
    """The requested `*.fields`, or a 400 naming the first one X does not know."""
    for name in names:
        raw = request.args.get(name)
        if raw is None:
            continue
        fields = {f for f in raw.split(",") if f}
        unknown = sorted(fields - allowed)
        if unknown or not fields:
            bad = unknown[0] if unknown else ""
            return set(), _invalid(
                f"The `{name}` query parameter value [{bad}] is not one of [{','.join(sorted(allowed))}]", name, bad
            )
        return fields, None
    return set(), None


class XEmulator(PlatformEmulator):
    """X API v2 for posting: OAuth 2.0 with PKCE, posts, chunked media upload, public metrics."""

    slug = "x"
    name = "X"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._by_author = OwnerIndex(state.lock, "author_id")  # tweets by author (duplicate checks)

    def rules(self) -> list[Rule]:
        return [
            Rule("/i/oauth2/authorize", endpoint="authorize", methods=["GET"]),
            Rule("/2/oauth2/authorize", endpoint="authorize", methods=["GET"]),
            Rule("/i/oauth2/decision", endpoint="decision", methods=["POST"]),
            Rule("/2/oauth2/token", endpoint="token", methods=["POST"]),
            Rule("/2/oauth2/revoke", endpoint="revoke", methods=["POST"]),
            Rule("/2/users/me", endpoint="users_me", methods=["GET"]),
            Rule("/2/users/<user_id>/tweets", endpoint="user_tweets", methods=["GET"]),
            Rule("/2/tweets", endpoint="create_tweet", methods=["POST"]),
            Rule("/2/tweets", endpoint="tweets_by_ids", methods=["GET"]),
            Rule("/2/tweets/<tweet_id>", endpoint="tweet_by_id", methods=["GET"]),
            Rule("/2/tweets/<tweet_id>", endpoint="delete_tweet", methods=["DELETE"]),
            Rule("/2/media/upload/initialize", endpoint="media_initialize", methods=["POST"]),
            Rule("/2/media/upload/<media_id>/append", endpoint="media_append", methods=["POST"]),
            Rule("/2/media/upload/<media_id>/finalize", endpoint="media_finalize", methods=["POST"]),
            Rule("/2/media/upload", endpoint="media_status", methods=["GET"]),
            Rule("/2/media/metadata", endpoint="media_metadata", methods=["POST"]),
        ]

    # ------------------------------------------------------------------------- faults

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "expired_token":
            return _unauthorized()
        if fault.kind == "rate_limit":
            reset = int(time.time()) + fault.retry_after
            headers = {
                "x-rate-limit-limit": str(CREATE_LIMIT),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            }
            # A problem object that also carries v1.1's code 88 (the spec's Error shape: code + message).
            response = _problem(429, "Too Many Requests", "Too Many Requests", code=88, message="Rate limit exceeded")
            response.headers.update(headers)
            return response
        if fault.kind == "duplicate":
            return _problem(403, "Forbidden", DUPLICATE_DETAIL)
        if fault.kind == "invalid":
            return _invalid("Your Tweet text is too long.", "text")
        if fault.kind == "server_error":
            return _problem(503, "Service Unavailable", "Service Unavailable")
        if fault.kind == "refresh_fails":
            return _oauth_error(400, "invalid_grant", "Value passed for the token was invalid.")
        if fault.kind == "lost_response":
            raise DropConnection
        return _problem(500, "Internal Server Error", "Internal Server Error", f"{PROBLEMS}/internal-error")

    def _fault(self, request: Request, operation: str, token: Token | None) -> tuple[Fault | None, Response | None]:
        """The armed fault for this call and, unless it is a lost response, the answer to give at once."""
        accounts = (token.account_id, token.username) if token else ()
        fault = self.check_fault(request, operation, *accounts)
        if fault is None or fault.kind == "lost_response":
            return fault, None
        return fault, self.fault_response(fault, request)

    @staticmethod
    def _finish(fault: Fault | None, response: Response) -> Response:
        """Answer, or, for a lost response, drop the connection after the work is done."""
        if fault is not None and fault.kind == "lost_response":
            raise DropConnection
        return response

    def _authenticate(self, request: Request, *scopes: str) -> tuple[Token | None, Response | None]:
        token = self.state.token(self.slug, bearer(request))
        if token is None:
            return None, _unauthorized()
        note_account(request, token.account_id)
        missing = [scope for scope in scopes if scope not in token.scopes]
        if missing:  # [U] X's exact wording for a missing scope
            return None, _problem(403, "Forbidden", f"Missing OAuth 2.0 scope(s): {' '.join(missing)}.")
        return token, None

    def _data(self) -> dict[str, Any]:
        store = self.store()
        for key in ("tweets", "media", "rate"):
            store.setdefault(key, {})
        return store

    def _snowflake(self) -> str:
        millis = int(time.time() * 1000) - TWITTER_EPOCH_MS
        return str((millis << 22) | (self.state.next_id() & 0x3FFFFF))

    # ------------------------------------------------------------------------- OAuth

    def _oauth_rules(self, request: Request) -> OAuthRules:
        return OAuthRules(
            platform=self.slug,
            name=self.name,
            decision_path=f"{request.script_root}/{self.slug}/i/oauth2/decision",
            require_pkce=True,
        )

    def authorize(self, request: Request) -> Response:
        args = request.args
        redirect_uri = args.get("redirect_uri", "")
        if args.get("client_id") == EMULATOR_CLIENT_ID and redirect_uri.startswith(("http://", "https://")):
            scopes = args.get("scope", "").split()
            if not scopes or any(scope not in KNOWN_SCOPES for scope in scopes):
                return redirect_to(redirect_uri, {"error": "invalid_scope", "state": args.get("state", "")})
            if not args.get("state"):
                return redirect_to(redirect_uri, {"error": "invalid_request", "error_description": "state is required"})
        return show_authorize(request, self._oauth_rules(request))

    def decision(self, request: Request) -> Response:
        return decide(request, self.state, self._oauth_rules(request))

    def token(self, request: Request) -> Response:
        # Confidential clients authenticate with HTTP Basic (X's OAuth 2.0 documentation).
        auth = request.authorization
        if auth is None or auth.type != "basic":
            return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        if auth.username != EMULATOR_CLIENT_ID or auth.password != EMULATOR_CLIENT_SECRET:
            return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        grant_type = request.form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._token_from_code(request)
        if grant_type == "refresh_token":
            return self._token_from_refresh(request)
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type [{grant_type}].")

    def _token_from_code(self, request: Request) -> Response:
        form = request.form
        for name in ("code", "redirect_uri", "code_verifier"):
            if not form.get(name):
                return _oauth_error(400, "invalid_request", f"Missing required parameter [{name}].")
        fault, answer = self._fault(request, "token", None)
        if answer is not None:
            return answer
        check = redeem_code(
            self.state,
            code=form["code"],
            client_id=EMULATOR_CLIENT_ID,
            client_secret=EMULATOR_CLIENT_SECRET,
            redirect_uri=form["redirect_uri"],
            code_verifier=form["code_verifier"],
        )
        if check.code is None:  # unknown, used or expired code, other redirect URI, or a wrong PKCE verifier
            return _oauth_error(400, "invalid_request", "Value passed for the authorization code was invalid.")
        note_account(request, account_id_for(self.slug, check.code.username))
        body = issue_for(
            self.state, check.code, ttl=ACCESS_TOKEN_TTL, with_refresh="offline.access" in check.code.scopes
        )
        return self._finish(fault, json_response(body))

    def _token_from_refresh(self, request: Request) -> Response:
        value = request.form.get("refresh_token", "")
        old = self.state.token(self.slug, value, kind="refresh")
        if old is None:
            return _oauth_error(400, "invalid_request", "Value passed for the token was invalid.")
        note_account(request, old.account_id)
        fault, answer = self._fault(request, "refresh", old)
        if answer is not None:
            return answer
        with self.state.lock:
            old.revoked = True  # [U] rotation: each refresh token works once
        access, refresh = self.state.issue_tokens(
            self.slug,
            account_id=old.account_id,
            username=old.username,
            scopes=old.scopes,
            ttl=ACCESS_TOKEN_TTL,
            with_refresh=True,
        )
        body = {
            "token_type": "bearer",
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "access_token": access,
            "scope": " ".join(old.scopes),
            "refresh_token": refresh,
        }
        return self._finish(fault, json_response(body))

    def revoke(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or auth.username != EMULATOR_CLIENT_ID or auth.password != EMULATOR_CLIENT_SECRET:
            return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        value = request.form.get("token", "")
        with self.state.lock:
            token = self.state.tokens.get(value)
            if token is not None and token.platform == self.slug:
                token.revoked = True
                note_account(request, token.account_id)
        # RFC 7009 §2.2: an unknown token is not an error.
        return json_response({"revoked": True})

    # ------------------------------------------------------------------------- users

    def users_me(self, request: Request) -> Response:
        token, denied = self._authenticate(request, "users.read")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "profile", token)
        if answer is not None:
            return answer
        fields, bad = _fields(request, "user.fields", allowed=USER_FIELDS)
        if bad is not None:
            return bad
        user: dict[str, Any] = {
            "id": token.account_id,
            "name": token.username.replace("_", " ").title(),
            "username": token.username,
        }
        extras: dict[str, Any] = {
            "profile_image_url": f"{request.host_url}_media/x-{token.account_id}.png",
            "created_at": _iso(time.time() - 400 * 86400),
            "description": "",
            "protected": False,
            "verified": False,
            "public_metrics": {"followers_count": 120, "following_count": 80, "tweet_count": 0, "listed_count": 1},
        }
        user.update({name: value for name, value in extras.items() if name in fields})
        return self._finish(fault, json_response({"data": user}))

    # ------------------------------------------------------------------------- posts

    def create_tweet(self, request: Request) -> Response:
        token, denied = self._authenticate(request, "tweet.read", "tweet.write", "users.read")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "publish", token)
        if answer is not None:
            return answer
        body = request.get_json(silent=True) if request.mimetype == "application/json" else None
        if not isinstance(body, dict):
            return _invalid("The request body must be a JSON object (Content-Type: application/json).")
        refused = self._check_post(body, token)
        if refused is not None:
            return refused
        text = normalise_text(str(body.get("text") or ""))
        media_ids = list((body.get("media") or {}).get("media_ids") or [])
        now = time.time()
        store = self._data()
        with self.state.lock:
            limited = self._count_create(store, token.account_id, now)
            if limited is not None:
                return limited
            if text.strip() and self._is_duplicate(store, token.account_id, text, now):
                return _problem(403, "Forbidden", DUPLICATE_DETAIL)
            tweet = self._new_tweet(token, text, media_ids, now)
            store["tweets"][tweet["id"]] = tweet
            self._by_author.added(store["tweets"], tweet)
        data = {"id": tweet["id"], "text": tweet["text"], "edit_history_post_ids": [tweet["id"]]}
        return self._finish(fault, json_response({"data": data}, 201, headers=self._rate_headers(store, token, now)))

    def _check_post(self, body: dict[str, Any], token: Token) -> Response | None:
        """Validate a CreatePostsRequest as X does: the schema strictly, then length, cashtags and media."""
        unknown = sorted(set(body) - CREATE_FIELDS)
        if unknown:
            return _invalid(f"The property [{unknown[0]}] is not allowed in the request body.", unknown[0])
        text = body.get("text", "")
        if not isinstance(text, str):
            return _invalid("text must be a string.", "text")
        for name in BOOLEAN_FIELDS:
            if name in body and not isinstance(body[name], bool):
                return _invalid(f"{name} must be a boolean.", name)
        for name in ("quote_tweet_id", "community_id"):
            if name in body and not (isinstance(body[name], str) and _NUMERIC_ID.fullmatch(body[name])):
                return _invalid(f"{name} must be a numeric id string.", name)
        if "reply_settings" in body and body["reply_settings"] not in REPLY_SETTINGS:
            return _invalid("reply_settings is not one of the allowed values.", "reply_settings")
        reply = body.get("reply")
        if reply is not None and not (
            isinstance(reply, dict) and _NUMERIC_ID.fullmatch(str(reply.get("in_reply_to_tweet_id", "")))
        ):
            return _invalid("reply.in_reply_to_tweet_id must be a numeric id string.", "reply")
        poll = body.get("poll")
        if poll is not None:
            refused = _check_poll(poll)
            if refused is not None:
                return refused
        media = body.get("media")
        media_ids: list[str] = []
        if media is not None:
            if not isinstance(media, dict):
                return _invalid("media must be an object.", "media")
            extra = sorted(set(media) - CREATE_MEDIA_FIELDS)
            if extra:
                return _invalid(f"The property [media.{extra[0]}] is not allowed in the request body.", "media")
            media_ids = media.get("media_ids")  # type: ignore[assignment]
            if (
                not isinstance(media_ids, list)
                or not 1 <= len(media_ids) <= 4
                or not all(isinstance(i, str) and _NUMERIC_ID.fullmatch(i) for i in media_ids)
            ):
                return _invalid("media.media_ids must hold 1 to 4 media id strings.", "media.media_ids")
            tagged = media.get("tagged_user_ids", [])
            if not isinstance(tagged, list) or len(tagged) > 10:
                return _invalid("media.tagged_user_ids may hold at most 10 user ids.", "media.tagged_user_ids")
        if media is not None and poll is not None:
            return _invalid("A post cannot carry both media and a poll.", "media")  # [U] wording
        if not text.strip() and not media_ids:
            return _invalid("Post text is required unless media is attached.", "text")
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            return _invalid(
                "Your Tweet text is too long. For more information on how X counts characters, "
                "visit https://docs.x.com/fundamentals/counting-characters",
                "text",
            )
        if "$" in text and len(_CASHTAG.findall(normalise_text(text))) > 1:
            return _invalid("Posts may contain at most one cashtag.", "text")  # [U] wording, self-serve rule
        return self._check_media(media_ids, token)

    def _check_media(self, media_ids: list[str], token: Token) -> Response | None:
        if not media_ids:
            return None
        store = self._data()
        with self.state.lock:
            items = [store["media"].get(media_id) for media_id in media_ids]
        for media_id, item in zip(media_ids, items, strict=True):
            usable = (
                item is not None
                and (item["owner"] == token.account_id or token.account_id in item["additional_owners"])
                and item["state"] == "succeeded"
            )
            if not usable:
                return _invalid("Your media IDs are invalid.", "media.media_ids", media_id)
        categories = [item["category"] for item in items if item is not None]
        if len(categories) > 1 and any(c != "tweet_image" for c in categories):
            return _invalid("A post may carry up to 4 images, or 1 GIF, or 1 video.", "media.media_ids")
        return None

    def _count_create(self, store: dict[str, Any], account: str, now: float) -> Response | None:
        window = [t for t in store["rate"].get(account, []) if t > now - CREATE_WINDOW_SECONDS]
        if len(window) >= CREATE_LIMIT:
            reset = int(window[0] + CREATE_WINDOW_SECONDS) + 1
            response = _problem(429, "Too Many Requests", "Too Many Requests", code=88, message="Rate limit exceeded")
            response.headers.update(
                {
                    "x-rate-limit-limit": str(CREATE_LIMIT),
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(reset),
                }
            )
            store["rate"][account] = window
            return response
        store["rate"][account] = [*window, now]
        return None

    @staticmethod
    def _rate_headers(store: dict[str, Any], token: Token, now: float) -> dict[str, str]:
        window = store["rate"].get(token.account_id, [])
        reset = int((window[0] if window else now) + CREATE_WINDOW_SECONDS) + 1
        return {
            "x-rate-limit-limit": str(CREATE_LIMIT),
            "x-rate-limit-remaining": str(max(0, CREATE_LIMIT - len(window))),
            "x-rate-limit-reset": str(reset),
        }

    def _is_duplicate(self, store: dict[str, Any], account: str, text: str, now: float) -> bool:
        wanted = text.strip()
        return any(
            not tweet["deleted"]
            and tweet["created_ts"] > now - DUPLICATE_WINDOW_SECONDS
            and tweet["source_text"].strip() == wanted
            for tweet in self._by_author.of(store["tweets"], account)
        )

    def _new_tweet(self, token: Token, text: str, media_ids: list[str], now: float) -> dict[str, Any]:
        """A stored post: X's display text (t.co links, escaped), its URL entities and media keys."""
        tweet_id = self._snowflake()
        pieces, entities, cursor, length = [], [], 0, 0
        for start, end in find_urls(text):
            before = text[cursor:start]
            short = _tco()
            link = text[start:end]
            expanded = link if link.lower().startswith(("http://", "https://")) else f"http://{link}"
            display = regex.sub(r"^https?://(www\.)?", "", expanded)
            length += len(before)
            entities.append(
                {
                    "start": length,
                    "end": length + len(short),
                    "url": short,
                    "expanded_url": expanded,
                    "display_url": display if len(display) <= 26 else display[:25] + "…",
                }
            )
            pieces += [before, short]
            length += len(short)
            cursor = end
        pieces.append(text[cursor:])
        display_text = "".join(pieces)
        store = self._data()
        media_keys = [store["media"][media_id]["media_key"] for media_id in media_ids]
        if media_keys:
            short = _tco()
            kind = "photo" if store["media"][media_ids[0]]["category"] == "tweet_image" else "video"
            separator = " " if display_text else ""
            start = len(display_text) + len(separator)
            display_text = f"{display_text}{separator}{short}"
            entities.append(
                {
                    "start": start,
                    "end": start + len(short),
                    "url": short,
                    "expanded_url": f"https://x.com/{token.username}/status/{tweet_id}/{kind}/1",
                    "display_url": f"pic.x.com/{short.rsplit('/', 1)[1]}",
                    "media_key": media_keys[0],
                }
            )
        return {
            "id": tweet_id,
            "author_id": token.account_id,
            "username": token.username,
            "source_text": text,
            # Indices refer to the unescaped text; the text itself is HTML-escaped like X's.
            "text": html.escape(display_text, quote=False),
            "entities": {"urls": entities} if entities else {},
            "media_keys": media_keys,
            "created_ts": now,
            "created_at": _iso(now),
            "deleted": False,
        }

    def _render(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {"id": tweet["id"], "text": tweet["text"], "edit_history_post_ids": [tweet["id"]]}
        if "edit_history_tweet_ids" in fields:
            data["edit_history_tweet_ids"] = [tweet["id"]]
        if "created_at" in fields:
            data["created_at"] = tweet["created_at"]
        if "author_id" in fields:
            data["author_id"] = tweet["author_id"]
        if "conversation_id" in fields:
            data["conversation_id"] = tweet["id"]
        if "entities" in fields and tweet["entities"]:
            data["entities"] = tweet["entities"]
        if "attachments" in fields and tweet["media_keys"]:
            data["attachments"] = {"media_keys": tweet["media_keys"]}
        if "possibly_sensitive" in fields:
            data["possibly_sensitive"] = False
        if "public_metrics" in fields:
            data["public_metrics"] = _metrics(tweet)
        return data

    def tweets_by_ids(self, request: Request) -> Response:
        token, denied = self._authenticate(request, "tweet.read", "users.read")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fields, bad = _fields(request, "tweet.fields", "post.fields", allowed=POST_FIELDS)
        operation = "metrics" if "public_metrics" in fields else "lookup"
        fault, answer = self._fault(request, operation, token)
        if answer is not None:
            return answer
        if bad is not None:
            return bad
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return _invalid("ids must name 1 to 100 posts.", "ids", request.args.get("ids", ""))
        for tweet_id in ids:
            if not _NUMERIC_ID.fullmatch(tweet_id):
                return _invalid(f"The `ids` query parameter value [{tweet_id}] is not valid", "ids", tweet_id)
        store = self._data()
        found, errors = [], []
        with self.state.lock:
            for tweet_id in ids:
                tweet = store["tweets"].get(tweet_id)
                if tweet is None or tweet["deleted"]:
                    errors.append(_not_found("tweet", "ids", tweet_id))
                else:
                    found.append(self._render(tweet, fields))
        body: dict[str, Any] = {}
        if found:
            body["data"] = found
        if errors:
            body["errors"] = errors
        return self._finish(fault, json_response(body))

    def tweet_by_id(self, request: Request, tweet_id: str) -> Response:
        token, denied = self._authenticate(request, "tweet.read", "users.read")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "lookup", token)
        if answer is not None:
            return answer
        fields, bad = _fields(request, "tweet.fields", "post.fields", allowed=POST_FIELDS)
        if bad is not None:
            return bad
        if not _NUMERIC_ID.fullmatch(tweet_id):
            return _invalid(f"The `id` query parameter value [{tweet_id}] is not valid", "id", tweet_id)
        with self.state.lock:
            tweet = self._data()["tweets"].get(tweet_id)
            body = (
                {"errors": [_not_found("tweet", "id", tweet_id)]}
                if tweet is None or tweet["deleted"]
                else {"data": self._render(tweet, fields)}
            )
        return self._finish(fault, json_response(body))

    def user_tweets(self, request: Request, user_id: str) -> Response:
        token, denied = self._authenticate(request, "tweet.read", "users.read")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "lookup", token)
        if answer is not None:
            return answer
        fields, bad = _fields(request, "tweet.fields", "post.fields", allowed=POST_FIELDS)
        if bad is not None:
            return bad
        if not _NUMERIC_ID.fullmatch(user_id):
            return _invalid(f"The `id` query parameter value [{user_id}] is not valid", "id", user_id)
        raw_max = request.args.get("max_results", "10")
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            return _invalid(
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100", "max_results", raw_max
            )
        excluded = {e for e in request.args.get("exclude", "").split(",") if e}
        if excluded - {"replies", "retweets"}:
            return _invalid("exclude may only hold replies and retweets.", "exclude", request.args.get("exclude", ""))
        offset = _read_page_token(request.args.get("pagination_token"))
        if offset is None:
            return _invalid("The pagination token is invalid.", "pagination_token")
        with self.state.lock:
            mine = [t for t in self._data()["tweets"].values() if t["author_id"] == user_id and not t["deleted"]]
            mine.sort(key=lambda t: (t["created_ts"], int(t["id"])), reverse=True)
            page = mine[offset : offset + int(raw_max)]
            data = [self._render(tweet, fields) for tweet in page]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta["newest_id"], meta["oldest_id"] = data[0]["id"], data[-1]["id"]
        if offset + int(raw_max) < len(mine):
            meta["next_token"] = _page_token(offset + int(raw_max))
        body: dict[str, Any] = {"data": data, "meta": meta} if data else {"meta": meta}
        return self._finish(fault, json_response(body))

    def delete_tweet(self, request: Request, tweet_id: str) -> Response:
        token, denied = self._authenticate(request, "tweet.read", "tweet.write", "users.read")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "delete", token)
        if answer is not None:
            return answer
        with self.state.lock:
            tweet = self._data()["tweets"].get(tweet_id)
            if tweet is None or tweet["deleted"]:
                found = _not_found("tweet", "id", tweet_id)
                return _problem(404, found.pop("title"), found.pop("detail"), found.pop("type"), **found)
            if tweet["author_id"] != token.account_id:
                return _problem(403, "Forbidden", "You are not allowed to delete a Tweet you did not create.")
            tweet["deleted"] = True
        return self._finish(fault, json_response({"data": {"deleted": True}}))

    # ------------------------------------------------------------------------- media

    def _owned_media(self, media_id: str, token: Token) -> tuple[dict[str, Any] | None, Response | None]:
        item = self._data()["media"].get(media_id)
        if item is None or token.account_id not in (item["owner"], *item["additional_owners"]):
            return None, _invalid(f"The media id [{media_id}] is not known.", "id", media_id)
        return item, None

    def media_initialize(self, request: Request) -> Response:
        token, denied = self._authenticate(request, "media.write")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "upload", token)
        if answer is not None:
            return answer
        body = request.get_json(silent=True) if request.mimetype == "application/json" else None
        if not isinstance(body, dict):
            return _invalid("The request body must be a JSON object (Content-Type: application/json).")
        unknown = sorted(set(body) - INITIALIZE_FIELDS)
        if unknown:
            return _invalid(f"The property [{unknown[0]}] is not allowed in the request body.", unknown[0])
        media_type = body.get("media_type")
        if media_type not in MEDIA_TYPES:
            return _invalid(f"media_type [{media_type}] is not supported.", "media_type", str(media_type))
        total = body.get("total_bytes")
        if not isinstance(total, int) or isinstance(total, bool) or not 0 < total <= MAX_TOTAL_BYTES:
            return _invalid("total_bytes must be a positive integer.", "total_bytes", str(total))
        category = body.get("media_category") or ("tweet_video" if media_type.startswith("video/") else "tweet_image")
        if category not in MEDIA_CATEGORIES:
            return _invalid(f"media_category [{category}] is not supported.", "media_category", str(category))
        if not _category_fits(category, media_type):
            return _invalid(f"media_category [{category}] does not fit {media_type}.", "media_category", category)
        limit = CATEGORY_LIMITS.get(category)
        if limit is not None and total > limit:
            return _invalid(f"File size exceeds {limit} bytes.", "total_bytes", str(total))
        owners = body.get("additional_owners", [])
        if not isinstance(owners, list) or not all(isinstance(o, str) and _NUMERIC_ID.fullmatch(o) for o in owners):
            return _invalid("additional_owners must hold user id strings.", "additional_owners")
        media_id = self._snowflake()
        now = time.time()
        item = {
            "id": media_id,
            "media_key": f"{MEDIA_KEY_PREFIX.get(category, '3')}_{media_id}",
            "owner": token.account_id,
            "additional_owners": owners,
            "media_type": media_type,
            "category": category,
            "total_bytes": total,
            "segments": {},
            "head": "",
            "state": "uploading",
            "alt_text": "",
            "created_ts": now,
        }
        with self.state.lock:
            self._data()["media"][media_id] = item
        data = {"id": media_id, "media_key": item["media_key"], "expires_after_secs": MEDIA_EXPIRES_AFTER_SECONDS}
        return self._finish(fault, json_response({"data": data}))

    def media_append(self, request: Request, media_id: str) -> Response:
        token, denied = self._authenticate(request, "media.write")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "upload", token)
        if answer is not None:
            return answer
        item, missing = self._owned_media(media_id, token)
        if missing is not None or item is None:
            return missing or _invalid("Unknown media id.")
        if item["state"] != "uploading":
            return _invalid("This upload is already finalized.", "id", media_id)
        fields, chunk = _append_payload(request)
        if isinstance(fields, Response):
            return fields
        unknown = sorted(set(fields) - {"media", "segment_index"})
        if unknown:
            return _invalid(f"The property [{unknown[0]}] is not allowed in the request body.", unknown[0])
        raw_index = str(fields.get("segment_index", ""))
        if not raw_index.isdigit() or not 0 <= int(raw_index) <= 999:
            return _invalid("segment_index must be an integer from 0 to 999.", "segment_index", raw_index)
        if chunk is None:
            return _invalid("media is required.", "media")
        if len(chunk) > MAX_SEGMENT_BYTES:
            return _invalid(f"A segment may be at most {MAX_SEGMENT_BYTES} bytes.", "media")
        with self.state.lock:
            item["segments"][raw_index] = len(chunk)
            if int(raw_index) == 0:
                item["head"] = chunk[:16].hex()
        expires_at = int(item["created_ts"] + MEDIA_EXPIRES_AFTER_SECONDS)
        return self._finish(fault, json_response({"data": {"expires_at": expires_at}}))

    def media_finalize(self, request: Request, media_id: str) -> Response:
        token, denied = self._authenticate(request, "media.write")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "upload", token)
        if answer is not None:
            return answer
        item, missing = self._owned_media(media_id, token)
        if missing is not None or item is None:
            return missing or _invalid("Unknown media id.")
        with self.state.lock:
            if item["state"] != "uploading":
                return _invalid("This upload is already finalized.", "id", media_id)
            indices = sorted(int(i) for i in item["segments"])
            if indices != list(range(len(indices))) or sum(item["segments"].values()) != item["total_bytes"]:
                return _invalid("Segments do not add up to provided total file size.", "id", media_id)
            signatures = MAGIC.get(item["media_type"])
            if signatures and not bytes.fromhex(item["head"]).startswith(signatures):
                return _invalid("media type unrecognized.", "id", media_id)
            # Images are ready at once; GIFs and videos are processed asynchronously.
            item["state"] = "succeeded" if item["category"] in ("tweet_image", "dm_image") else "pending"
        data: dict[str, Any] = {
            "id": media_id,
            "media_key": item["media_key"],
            "size": item["total_bytes"],
            "expires_after_secs": MEDIA_EXPIRES_AFTER_SECONDS,
        }
        if item["state"] == "succeeded":
            data["image"] = {"image_type": item["media_type"]}
        else:
            data["processing_info"] = {"state": "pending", "check_after_secs": 1}
        return self._finish(fault, json_response({"data": data}))

    def media_status(self, request: Request) -> Response:
        token, denied = self._authenticate(request, "media.write")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "upload", token)
        if answer is not None:
            return answer
        command = request.args.get("command", "STATUS")
        if command != "STATUS":
            return _invalid(f"command [{command}] is not supported here.", "command", command)
        media_id = request.args.get("media_id", "")
        if not _NUMERIC_ID.fullmatch(media_id):
            return _invalid("media_id is required.", "media_id", media_id)
        item, missing = self._owned_media(media_id, token)
        if missing is not None or item is None:
            return missing or _invalid("Unknown media id.")
        with self.state.lock:
            # Each poll moves processing one step on: pending → in_progress → succeeded.
            if item["state"] == "pending":
                item["state"] = "in_progress"
            elif item["state"] == "in_progress":
                item["state"] = "succeeded"
            state = item["state"]
        if state == "uploading":
            return _invalid("The upload has not been finalized.", "media_id", media_id)
        info: dict[str, Any] = {"state": state, "progress_percent": 100 if state == "succeeded" else 50}
        if state in ("pending", "in_progress"):
            info["check_after_secs"] = 1
        data = {"id": media_id, "media_key": item["media_key"], "size": item["total_bytes"], "processing_info": info}
        return self._finish(fault, json_response({"data": data}))

    def media_metadata(self, request: Request) -> Response:
        token, denied = self._authenticate(request, "media.write")
        if denied is not None or token is None:
            return denied or _unauthorized()
        fault, answer = self._fault(request, "upload", token)
        if answer is not None:
            return answer
        body = request.get_json(silent=True) if request.mimetype == "application/json" else None
        if not isinstance(body, dict) or not _NUMERIC_ID.fullmatch(str(body.get("id", ""))):
            return _invalid("id is required.", "id")
        item, missing = self._owned_media(str(body["id"]), token)
        if missing is not None or item is None:
            return missing or _invalid("Unknown media id.")
        metadata = body.get("metadata") or {}
        alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
        if alt is not None:
            if not isinstance(alt, dict) or not isinstance(alt.get("text"), str) or len(alt["text"]) > 1000:
                return _invalid("metadata.alt_text.text must be a string of at most 1000 characters.", "alt_text")
            with self.state.lock:
                item["alt_text"] = alt["text"]
        data = {"id": item["id"], "associated_metadata": metadata}
        return self._finish(fault, json_response({"data": data}))


# ----------------------------------------------------------------------------- helpers


def _check_poll(poll: Any) -> Response | None:
    if not isinstance(poll, dict):
        return _invalid("poll must be an object.", "poll")
    options = poll.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= 4:
        return _invalid("poll.options must hold 2 to 4 options.", "poll.options")
    if not all(isinstance(o, str) and 1 <= len(o) <= 25 for o in options):
        return _invalid("Each poll option must be 1 to 25 characters.", "poll.options")
    minutes = poll.get("duration_minutes")
    if not isinstance(minutes, int) or not 5 <= minutes <= 10080:
        return _invalid("poll.duration_minutes must be from 5 to 10080.", "poll.duration_minutes")
    return None


def _category_fits(category: str, media_type: str) -> bool:
    if category in ("tweet_gif", "dm_gif"):
        return media_type == "image/gif"
    if category in ("tweet_image", "dm_image"):
        return media_type.startswith("image/")
    if category in ("tweet_video", "dm_video", "amplify_video"):
        return media_type.startswith("video/")
    if category == "subtitles":
        return media_type.startswith("text/")
    return False


def _append_payload(request: Request) -> tuple[dict[str, Any] | Response, bytes | None]:
    """The APPEND fields and chunk: multipart (binary `media`) or JSON (base64 `media`)."""
    if request.mimetype == "multipart/form-data":
        fields: dict[str, Any] = request.form.to_dict(flat=True)
        upload = request.files.get("media")
        if upload is not None:
            fields["media"] = "(binary)"
            data = upload.read()
            upload.stream.seek(0)
            return fields, data
        if "media" in fields:
            return fields, _decode_base64(fields["media"])
        return fields, None
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _invalid("The request body must be a JSON object."), None
        return body, _decode_base64(body["media"]) if isinstance(body.get("media"), str) else None
    return _invalid("APPEND takes multipart/form-data or application/json."), None


def _decode_base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _page_token(offset: int) -> str:
    return base64.b32hexencode(str(offset).encode()).decode().rstrip("=").lower()


def _read_page_token(token: str | None) -> int | None:
    if not token:
        return 0
    padded = token.upper() + "=" * (-len(token) % 8)
    try:
        return int(base64.b32hexdecode(padded).decode())
    except (binascii.Error, ValueError):
        return None


def _metrics(tweet: dict[str, Any]) -> dict[str, int]:
    """Counts that only grow with the post's age, varied a little per post."""
    age = max(0.0, time.time() - tweet["created_ts"])
    seed = int(tweet["id"]) % 97
    reposts = int(age / 120) + seed % 3
    return {
        "retweet_count": reposts,  # the documented name
        "repost_count": reposts,  # the spec's (v2.167) name
        "reply_count": int(age / 180) + seed % 2,
        "like_count": int(age / 30) + seed % 5,
        "quote_count": int(age / 600),
        "bookmark_count": int(age / 300) + seed % 2,
        "impression_count": int(age * 2) + seed,
    }
