"""Mastodon, emulated: any number of instances under `/mastodon/<instance>/…`, on Mastodon's real paths.

Written from ../shared/PLATFORMS.md §10 and the OpenAPI spec (../shared/specs/mastodon.openapi.json), not
from our provider. An instance exists as soon as something calls it; `configure_instance` changes its limits.

- Apps: `POST /api/v1/apps` registers a client on one instance; its client_id works on that instance only.
- OAuth: `/oauth/authorize` (consent page; PKCE S256 only), `/oauth/token` (authorization_code, checked
  against the registered app), `/oauth/revoke`. Tokens never expire and come without a refresh token.
- Statuses: create (Idempotency-Key kept an hour per account), show, delete, multi-get `?id[]=`, account
  listing (newest first, `max_id`/`since_id`/`min_id`/`limit`). Counts grow with a status's age.
- Media: `POST /api/v2/media` answers 200 for images and 202 for video, gifv and audio, which are
  "processed" for a moment; `GET /api/v1/media/{id}` answers 206 until then.
- Every answer carries `X-RateLimit-*` (the reset is an ISO 8601 time). Faults: expired_token → 401
  "The access token is invalid"; rate_limit → 429 with the reset at now + retry_after; invalid → 422;
  server_error → 503; lost_response → the work is done, then the connection drops. Mastodon has no
  duplicate-content refusal and no refresh grant, so `duplicate` and `refresh_fails` change nothing
  except at the token endpoint, where `refresh_fails` answers invalid_grant.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from publishing.emulator.core import (
    AuthCode,
    DropConnection,
    EmulatorState,
    Fault,
    OwnerIndex,
    PlatformEmulator,
    Token,
    account_id_for,
    authorize_page,
    bearer,
    count_graphemes,
    json_response,
    note_account,
    now,
    redirect_to,
    verify_pkce,
)

DEFAULT_INSTANCE_CONFIGURATION: dict[str, dict[str, Any]] = {
    "urls": {"streaming": None, "status": None, "about": None, "privacy_policy": None, "terms_of_service": None},
    "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5, "max_display_name_length": 30},
    "statuses": {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23},
    "media_attachments": {
        "supported_mime_types": [
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/heic",
            "image/heif",
            "image/webp",
            "image/avif",
            "video/webm",
            "video/mp4",
            "video/quicktime",
            "video/ogg",
            "audio/mpeg",
            "audio/ogg",
            "audio/wav",
            "audio/flac",
            "audio/aac",
            "audio/mp4",
        ],
        "description_limit": 1500,
        "image_size_limit": 16 * 1024 * 1024,
        "image_matrix_limit": 33177600,
        "video_size_limit": 99 * 1024 * 1024,
        "video_frame_rate_limit": 120,
        "video_matrix_limit": 8294400,
    },
    "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746},
    "translation": {"enabled": False},
}
RATE_LIMIT = 300  # requests per account per five minutes (PLATFORMS.md §10)
RATE_WINDOW = timedelta(minutes=5)
IDEMPOTENCY_TTL = 3600.0  # seconds the server remembers an Idempotency-Key
DEFAULT_PROCESSING_SECONDS = 0.3  # how long a 202 upload stays "processing"
VISIBILITIES = ("public", "unlisted", "private", "direct")

INVALID_TOKEN = "The access token is invalid"  # noqa: S105 (an error message, not a secret)
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used "
    "in the authorization request, or was issued to another client."
)
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)

# StatusLengthValidator: grapheme clusters; an http(s) URL counts as characters_reserved_per_url;
# a mention `@user@domain` counts as `@user`.
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w#&/])#(\w*[^\W\d]\w*)")


def _url_end(text: str, match: re.Match[str]) -> int:
    """Where a URL really ends: sentence punctuation and an unbalanced ")" are not part of it."""
    url = match.group()
    while url and (url[-1] in ".,:;!?'\"" or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    return match.start() + len(url)


def countable_length(text: str, url_chars: int) -> int:
    pieces, position = [], 0
    for match in _URL.finditer(text):
        if match.start() < position:
            continue
        pieces.append(_MENTION.sub(lambda m: "@" + m.group(1), text[position : match.start()]))
        pieces.append("x" * url_chars)
        position = _url_end(text, match)
    pieces.append(_MENTION.sub(lambda m: "@" + m.group(1), text[position:]))
    return count_graphemes("".join(pieces))


def _iso(moment: datetime) -> str:
    """Mastodon's datetime format: ISO 8601 with milliseconds, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _error(status: int, message: str, description: str | None = None, headers: dict[str, str] | None = None):
    body: dict[str, Any] = {"error": message}
    if description is not None:
        body["error_description"] = description
    return json_response(body, status, headers)


def _params(request: Request) -> dict[str, Any]:
    """Mastodon reads parameters from a JSON body, a form or the query; `name[]` collects a list."""
    if request.mimetype == "application/json":
        data = request.get_json(force=True, silent=True)
        return data if isinstance(data, dict) else {}
    params: dict[str, Any] = {}
    for source in (request.args, request.form):
        for key in source:
            values = source.getlist(key)
            if key.endswith("[]"):
                params[key[:-2]] = values
            else:
                params[key] = values[-1]
    return params


def _scopes(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return tuple(str(value or "").replace("+", " ").split())


def _grants(scopes: tuple[str, ...], needed: str) -> bool:
    """`read` covers `read:statuses`, `write` covers `write:media`, and so on."""
    return needed in scopes or needed.split(":", 1)[0] in scopes


class MastodonEmulator(PlatformEmulator):
    slug = "mastodon"
    name = "Mastodon"

    def __init__(self, state: EmulatorState) -> None:
        super().__init__(state)
        self._by_account = OwnerIndex(state.lock, "account_id")  # statuses by account (profile counts)

    def rules(self) -> list[Rule]:
        return [
            Rule("/<instance>/api/v1/apps", endpoint="register_app", methods=["POST"]),
            Rule("/<instance>/oauth/authorize", endpoint="authorize", methods=["GET"]),
            Rule("/<instance>/oauth/authorize", endpoint="authorize_decision", methods=["POST"]),
            Rule("/<instance>/oauth/token", endpoint="token", methods=["POST"]),
            Rule("/<instance>/oauth/revoke", endpoint="revoke", methods=["POST"]),
            Rule("/<instance>/api/v2/instance", endpoint="instance_info", methods=["GET"]),
            Rule("/<instance>/api/v1/accounts/verify_credentials", endpoint="verify_credentials", methods=["GET"]),
            Rule("/<instance>/api/v1/accounts/<account_id>/statuses", endpoint="account_statuses", methods=["GET"]),
            Rule("/<instance>/api/v1/statuses", endpoint="create_status", methods=["POST"]),
            Rule("/<instance>/api/v1/statuses", endpoint="statuses", methods=["GET"]),
            Rule("/<instance>/api/v1/statuses/<status_id>", endpoint="show_status", methods=["GET"]),
            Rule("/<instance>/api/v1/statuses/<status_id>", endpoint="delete_status", methods=["DELETE"]),
            Rule("/<instance>/api/v2/media", endpoint="upload_media", methods=["POST"]),
            Rule("/<instance>/api/v1/media/<media_id>", endpoint="show_media", methods=["GET"]),
        ]

    # ------------------------------------------------------------------ state

    def data(self) -> dict[str, Any]:
        store = self.store()
        with self.state.lock:
            for key in ("instances", "apps", "accounts", "statuses", "media", "idempotency", "rate"):
                store.setdefault(key, {})
        return store

    def configure_instance(self, instance: str, *, processing_seconds: float | None = None, **sections: Any) -> None:
        """Change an instance's configuration, e.g. `statuses={"max_characters": 1000}` (tests, demos)."""
        store = self.data()
        with self.state.lock:
            settings = store["instances"].setdefault(instance, {"configuration": {}})
            for section, values in sections.items():
                settings["configuration"].setdefault(section, {}).update(values)
            if processing_seconds is not None:
                settings["processing_seconds"] = processing_seconds

    def configuration(self, instance: str) -> dict[str, Any]:
        overrides = self.data()["instances"].get(instance, {}).get("configuration", {})
        return {
            section: {**values, **overrides.get(section, {})}
            for section, values in DEFAULT_INSTANCE_CONFIGURATION.items()
        }

    @staticmethod
    def snowflake(state_id: int) -> str:
        """Mastodon ids: milliseconds since the epoch shifted left 16 bits, plus a sequence; they sort by time."""
        return str((int(time.time() * 1000) << 16) | (state_id & 0xFFFF))

    # ------------------------------------------------------------------ helpers

    def rate_headers(self, account_id: str) -> dict[str, str]:
        """X-RateLimit-* for an account's current five-minute window (counted, not enforced)."""
        store = self.data()
        moment = now()
        with self.state.lock:
            window = store["rate"].get(account_id)
            if window is None or datetime.fromisoformat(window["reset"]) <= moment:
                window = {"reset": (moment + RATE_WINDOW).isoformat(), "used": 0}
                store["rate"][account_id] = window
            window["used"] += 1
            remaining = max(0, RATE_LIMIT - window["used"])
            reset = datetime.fromisoformat(window["reset"])
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    def authenticate(
        self, request: Request, instance: str, scope: str, *, optional: bool = False
    ) -> tuple[Token | None, Response | None]:
        """The caller's token, or the 401/403 Mastodon answers. `optional`: public endpoints."""
        value = bearer(request)
        if not value:
            if optional:
                return None, None
            return None, _error(401, "This method requires an authenticated user")
        token = self.state.token(self.slug, value)
        if token is None or token.extra.get("instance") != instance:
            return None, _error(401, INVALID_TOKEN)
        note_account(request, token.account_id)
        if not _grants(token.scopes, scope):
            return None, _error(403, "This action is outside the authorized scopes")
        return token, None

    def fault_for(self, request: Request, operation: str, token: Token | None) -> Fault | None:
        if token is None:
            return self.check_fault(request, operation)
        return self.check_fault(request, operation, token.account_id, token.username)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """Mastodon's documented answers: 401, 429 with an ISO 8601 reset, 422, 400 invalid_grant, 503."""
        if fault.kind == "expired_token":
            return _error(401, INVALID_TOKEN)
        if fault.kind == "rate_limit":
            reset = now() + timedelta(seconds=fault.retry_after)
            headers = {
                "X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            return _error(429, "Too many requests", headers=headers)
        if fault.kind == "invalid":
            return _error(422, "Validation failed: Text character limit of 500 exceeded")
        if fault.kind == "refresh_fails":
            return _error(400, "invalid_grant", INVALID_GRANT)
        return _error(503, "Remote data could not be fetched")

    def early_answer(self, fault: Fault | None, request: Request, *, token_endpoint: bool = False) -> Response | None:
        """The fault's answer when it replaces the real one; None for faults that leave it alone here."""
        if fault is None or fault.kind in ("lost_response", "duplicate"):
            return None
        if fault.kind == "refresh_fails" and not token_endpoint:
            return None
        return self.fault_response(fault, request)

    @staticmethod
    def deliver(fault: Fault | None, response: Response) -> Response:
        if fault is not None and fault.kind == "lost_response":
            raise DropConnection
        return response

    def media_url(self, request: Request, name: str) -> str:
        # The emulator's own /_media/ serves a real PNG, so pages showing this never leave the machine.
        return f"{request.host_url}_media/{name}.png"

    # ------------------------------------------------------------------ rendering

    def account_json(self, request: Request, account_id: str, *, credential: bool = False) -> dict[str, Any]:
        store = self.data()
        account = store["accounts"][account_id]
        instance, username = account["instance"], account["username"]
        own = self._by_account.of(store["statuses"], account_id)
        last = max((s["created_at"] for s in own), default=None)
        avatar = self.media_url(request, f"avatar-{account_id}")
        header = self.media_url(request, f"header-{account_id}")
        body: dict[str, Any] = {
            "id": account_id,
            "username": username,
            "acct": username,
            "display_name": username.replace("_", " ").title(),
            "locked": False,
            "bot": False,
            "discoverable": True,
            "indexable": True,
            "group": False,
            "created_at": "2024-01-15T00:00:00.000Z",
            "note": "<p>An emulated Mastodon account.</p>",
            "url": f"https://{instance}/@{username}",
            "uri": f"https://{instance}/users/{username}",
            "avatar": avatar,
            "avatar_static": avatar,
            "header": header,
            "header_static": header,
            "followers_count": 128,
            "following_count": 64,
            "statuses_count": len(own),
            "last_status_at": last[:10] if last else None,
            "hide_collections": False,
            "noindex": False,
            "emojis": [],
            "roles": [],
            "fields": [],
        }
        if credential:
            body["source"] = {
                "privacy": "public",
                "sensitive": False,
                "language": None,
                "note": "An emulated Mastodon account.",
                "fields": [],
                "follow_requests_count": 0,
                "indexable": True,
                "discoverable": True,
                "hide_collections": False,
                "attribution_domains": [],
            }
            body["role"] = {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False}
        return body

    def media_json(self, request: Request, record: dict[str, Any]) -> dict[str, Any]:
        is_ready = time.time() >= record["ready_at"]
        url = self.media_url(request, f"media-{record['id']}")
        return {
            "id": record["id"],
            "type": record["type"],
            "url": url if is_ready else None,
            "preview_url": url,
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {"original": {"width": 1, "height": 1, "aspect": 1.0}} if is_ready else None,
            "description": record["description"] or None,
            "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
        }

    def status_json(self, request: Request, record: dict[str, Any], *, with_source: bool = False) -> dict[str, Any]:
        store = self.data()
        instance, username = record["instance"], record["username"]
        favourites, reblogs, replies, quotes = _counts(record)
        tags = list(dict.fromkeys(match.group(1).lower() for match in _HASHTAG.finditer(record["text"])))
        body: dict[str, Any] = {
            "id": record["id"],
            "created_at": record["created_at"],
            "edited_at": None,
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": record["visibility"],
            "language": record["language"],
            "uri": f"https://{instance}/users/{username}/statuses/{record['id']}",
            "url": f"https://{instance}/@{username}/{record['id']}",
            "replies_count": replies,
            "reblogs_count": reblogs,
            "favourites_count": favourites,
            "quotes_count": quotes,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "content": _html(record["text"], instance),
            "filtered": [],
            "reblog": None,
            "application": record["application"],
            "account": self.account_json(request, record["account_id"]),
            "media_attachments": [
                self.media_json(request, store["media"][media_id])
                for media_id in record["media_ids"]
                if media_id in store["media"]
            ],
            "mentions": [],
            "tags": [{"name": tag, "url": f"https://{instance}/tags/{tag}"} for tag in tags],
            "emojis": [],
            "card": None,
            "poll": None,
            "quote": None,
        }
        if with_source:  # delete answers with the source, for "delete and redraft"
            body["text"] = record["text"]
        return body

    # ------------------------------------------------------------------ apps and OAuth

    def register_app(self, request: Request, instance: str) -> Response:
        params = _params(request)
        name = str(params.get("client_name") or "").strip()
        redirect_uris = params.get("redirect_uris") or []
        if isinstance(redirect_uris, str):
            redirect_uris = redirect_uris.split()
        problems = []
        if not name:
            problems.append("Application name can't be blank")
        if not redirect_uris:
            problems.append("Redirect URI can't be blank")
        if problems:
            return _error(422, "Validation failed: " + ", ".join(problems))
        scopes = _scopes(params.get("scopes")) or ("read",)
        app = {
            "id": str(self.state.next_id()),
            "instance": instance,
            "name": name,
            "website": params.get("website") or None,
            "redirect_uris": list(redirect_uris),
            "scopes": list(scopes),
            "client_id": secrets.token_urlsafe(32),
            "client_secret": secrets.token_urlsafe(32),
        }
        with self.state.lock:
            self.data()["apps"][app["client_id"]] = app
        body = {
            "id": app["id"],
            "name": name,
            "website": app["website"],
            "scopes": app["scopes"],
            "redirect_uri": "\n".join(app["redirect_uris"]),
            "redirect_uris": app["redirect_uris"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "client_secret_expires_at": 0,
            "vapid_key": "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=",
        }
        # App registration is limited per IP address, not per account.
        return json_response(body, 200, self.rate_headers(f"ip:{request.remote_addr}"))

    def app_for(self, instance: str, client_id: str) -> dict[str, Any] | None:
        app = self.data()["apps"].get(client_id or "")
        return app if app and app["instance"] == instance else None

    def check_authorize(self, instance: str, args: Any) -> tuple[dict[str, Any] | None, Response | None]:
        """The registered app for an authorize request, or the page/redirect Mastodon answers with."""
        app = self.app_for(instance, args.get("client_id", ""))
        if app is None:
            return None, Response(f"Client authentication failed: unknown client on {instance}.", status=401)
        redirect_uri = args.get("redirect_uri", "")
        if redirect_uri not in app["redirect_uris"]:
            return None, Response("The redirect uri included is not valid.", status=400)
        state = args.get("state", "")
        if args.get("response_type", "") != "code":
            return None, redirect_to(redirect_uri, {"error": "unsupported_response_type", "state": state})
        requested = _scopes(args.get("scope")) or ("read",)
        if not all(_grants(tuple(app["scopes"]), scope) for scope in requested):
            return None, redirect_to(redirect_uri, {"error": "invalid_scope", "state": state})
        if args.get("code_challenge") and args.get("code_challenge_method") != "S256":
            # Mastodon supports S256 only.
            return None, redirect_to(
                redirect_uri,
                {"error": "invalid_request", "error_description": "Code challenge method must be S256", "state": state},
            )
        return app, None

    def authorize(self, request: Request, instance: str) -> Response:
        app, refusal = self.check_authorize(instance, request.args)
        if refusal is not None:
            return refusal
        args = request.args
        scope = " ".join(_scopes(args.get("scope")) or ("read",))
        hidden = {
            "client_id": app["client_id"] if app else "",
            "redirect_uri": args.get("redirect_uri", ""),
            "response_type": "code",
            "state": args.get("state", ""),
            "scope": scope,
            "code_challenge": args.get("code_challenge", ""),
            "code_challenge_method": args.get("code_challenge_method", ""),
        }
        return authorize_page(
            platform_name=f"Mastodon ({instance})",
            action=f"/{self.slug}/{instance}/oauth/authorize",
            hidden=hidden,
            scopes=tuple(scope.split()),
            default_username="letsgrow_demo",
        )

    def authorize_decision(self, request: Request, instance: str) -> Response:
        form = request.form
        _app, refusal = self.check_authorize(instance, form)
        if refusal is not None:
            return refusal
        redirect_uri = form.get("redirect_uri", "")
        if form.get("decision") != "grant":
            return redirect_to(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The resource owner or authorization server denied the request.",
                    "state": form.get("state", ""),
                },
            )
        username = (form.get("username") or "letsgrow_demo").strip().lstrip("@").split("@")[0]
        code = self.state.new_code(
            AuthCode(
                platform=self.slug,
                username=username,
                client_id=form.get("client_id", ""),
                redirect_uri=redirect_uri,
                code_challenge=form.get("code_challenge", ""),
                code_challenge_method=form.get("code_challenge_method", ""),
                scopes=_scopes(form.get("scope")) or ("read",),
                expires_at=now() + timedelta(minutes=10),
                extra={"instance": instance},
            )
        )
        return redirect_to(redirect_uri, {"code": code, "state": form.get("state", "")})

    def token(self, request: Request, instance: str) -> Response:
        fault = self.check_fault(request, "token")
        if early := self.early_answer(fault, request, token_endpoint=True):
            return early
        params = _params(request)
        client_id, client_secret = params.get("client_id", ""), params.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id, client_secret = request.authorization.username or "", request.authorization.password
        app = self.app_for(instance, str(client_id))
        if app is None or not secrets.compare_digest(str(client_secret or ""), app["client_secret"]):
            return _error(401, "invalid_client", INVALID_CLIENT)
        if params.get("grant_type") != "authorization_code":
            return _error(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        auth = self.state.take_code(str(params.get("code") or ""))
        if (
            auth is None
            or auth.platform != self.slug
            or auth.extra.get("instance") != instance
            or auth.expires_at <= now()
            or auth.client_id != client_id
            or auth.redirect_uri != params.get("redirect_uri")
            or not verify_pkce(auth, str(params.get("code_verifier") or ""))
        ):
            return _error(400, "invalid_grant", INVALID_GRANT)
        account_id = account_id_for(self.slug, f"{auth.username}@{instance}")
        with self.state.lock:
            self.data()["accounts"].setdefault(account_id, {"instance": instance, "username": auth.username})
        access, _refresh = self.state.issue_tokens(
            self.slug,
            account_id=account_id,
            username=auth.username,
            scopes=auth.scopes,
            ttl=None,  # Mastodon tokens do not expire
            with_refresh=False,
            extra={"instance": instance, "client_id": client_id},
        )
        note_account(request, account_id)
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "scope": " ".join(auth.scopes),
            "created_at": int(time.time()),
        }
        return self.deliver(fault, json_response(body, 200, self.rate_headers(account_id)))

    def revoke(self, request: Request, instance: str) -> Response:
        params = _params(request)
        app = self.app_for(instance, str(params.get("client_id") or ""))
        if app is None or not secrets.compare_digest(str(params.get("client_secret") or ""), app["client_secret"]):
            return _error(403, "unauthorized_client", "You are not authorized to revoke this token")
        with self.state.lock:
            token = self.state.tokens.get(str(params.get("token") or ""))
            # RFC 7009: an unknown token, or one of another client, is answered 200 all the same.
            if token is not None and token.platform == self.slug and token.extra.get("client_id") == app["client_id"]:
                token.revoked = True
                note_account(request, token.account_id)
        return json_response({})

    # ------------------------------------------------------------------ instance and accounts

    def instance_info(self, request: Request, instance: str) -> Response:
        thumbnail = self.media_url(request, f"thumbnail-{instance}")
        body = {
            "domain": instance,
            "title": f"{instance} (emulated)",
            "version": "4.4.0",
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A Mastodon server emulated locally for LetsGrow.",
            "usage": {"users": {"active_month": 1234}},
            "thumbnail": {"url": thumbnail, "blurhash": None, "versions": {"@1x": thumbnail, "@2x": thumbnail}},
            "icon": [{"src": thumbnail, "size": "36x36"}],
            "languages": ["en"],
            "configuration": self.configuration(instance),
            "registrations": {"enabled": False, "approval_required": False, "message": None, "url": None},
            "api_versions": {"mastodon": 6},
            "contact": {"email": f"admin@{instance}", "account": None},
            "rules": [],
        }
        return json_response(body)

    def verify_credentials(self, request: Request, instance: str) -> Response:
        token, refusal = self.authenticate(request, instance, "read:accounts")
        if refusal is not None or token is None:
            return refusal or _error(401, INVALID_TOKEN)
        fault = self.fault_for(request, "profile", token)
        if early := self.early_answer(fault, request):
            return early
        body = self.account_json(request, token.account_id, credential=True)
        return self.deliver(fault, json_response(body, 200, self.rate_headers(token.account_id)))

    def account_statuses(self, request: Request, instance: str, account_id: str) -> Response:
        token, refusal = self.authenticate(request, instance, "read:statuses", optional=True)
        if refusal is not None:
            return refusal
        fault = self.fault_for(request, "lookup", token)
        if early := self.early_answer(fault, request):
            return early
        store = self.data()
        account = store["accounts"].get(account_id)
        if account is None or account["instance"] != instance:
            return _error(404, "Record not found")
        note_account(request, account_id)
        args = request.args
        try:
            limit = min(max(int(args.get("limit", 20)), 1), 40)
        except ValueError:
            limit = 20
        with self.state.lock:
            records = [s for s in store["statuses"].values() if s["account_id"] == account_id]
        records.sort(key=lambda s: int(s["id"]), reverse=True)
        if args.get("max_id", "").isdigit():
            records = [s for s in records if int(s["id"]) < int(args["max_id"])]
        if args.get("since_id", "").isdigit():
            records = [s for s in records if int(s["id"]) > int(args["since_id"])]
        if args.get("min_id", "").isdigit():  # the page immediately newer than min_id, still newest first
            records = [s for s in records if int(s["id"]) > int(args["min_id"])][-limit:]
        page = records[:limit]
        headers = self.rate_headers(token.account_id if token else account_id)
        if page:
            base = f"{request.base_url}?limit={limit}"
            headers["Link"] = (
                f'<{base}&max_id={page[-1]["id"]}>; rel="next", <{base}&min_id={page[0]["id"]}>; rel="prev"'
            )
        body = [self.status_json(request, record) for record in page]
        return self.deliver(fault, json_response(body, 200, headers))

    # ------------------------------------------------------------------ statuses

    def create_status(self, request: Request, instance: str) -> Response:
        token, refusal = self.authenticate(request, instance, "write:statuses")
        if refusal is not None or token is None:
            return refusal or _error(401, INVALID_TOKEN)
        fault = self.fault_for(request, "publish", token)
        if early := self.early_answer(fault, request):
            return early
        store = self.data()
        headers = self.rate_headers(token.account_id)
        key = request.headers.get("Idempotency-Key", "")
        idempotency = f"{token.account_id}:{key}"
        with self.state.lock:
            remembered = store["idempotency"].get(idempotency) if key else None
            if remembered and remembered["expires_at"] > time.time():
                # The same key within the hour: the original status, never a second one. If that status was
                # deleted meanwhile, the server cannot find it. [U]
                record = store["statuses"].get(remembered["status_id"])
                if record is None:
                    return _error(404, "Record not found", headers=headers)
                return self.deliver(fault, json_response(self.status_json(request, record), 200, headers))
            params = _params(request)
            problem = self.status_problem(instance, token.account_id, params)
            if problem:
                return _error(422, problem, headers=headers)
            media_ids = [str(m) for m in params.get("media_ids") or []]
            app = store["apps"].get(token.extra.get("client_id", ""), {})
            moment = now()
            record = {
                "id": self.snowflake(self.state.next_id()),
                "instance": instance,
                "account_id": token.account_id,
                "username": token.username,
                "text": str(params.get("status") or ""),
                "visibility": params.get("visibility") or "public",
                "language": params.get("language") or "en",
                "media_ids": media_ids,
                "created_at": _iso(moment),
                "created_ts": moment.timestamp(),
                "application": {"name": app.get("name", "Web"), "website": app.get("website")},
                "idempotency_key": key,
            }
            store["statuses"][record["id"]] = record
            self._by_account.added(store["statuses"], record)
            for media_id in media_ids:
                store["media"][media_id]["status_id"] = record["id"]
            if key:
                store["idempotency"][idempotency] = {
                    "status_id": record["id"],
                    "expires_at": time.time() + IDEMPOTENCY_TTL,
                }
        return self.deliver(fault, json_response(self.status_json(request, record), 200, headers))

    def status_problem(self, instance: str, account_id: str, params: dict[str, Any]) -> str:
        """Mastodon's 422 message for a status it refuses, or ""."""
        configuration = self.configuration(instance)["statuses"]
        text = str(params.get("status") or "")
        media_ids = [str(m) for m in params.get("media_ids") or []]
        if params.get("visibility") and params["visibility"] not in VISIBILITIES:
            return "Validation failed: Visibility is not included in the list"
        if not text.strip() and not media_ids and not params.get("poll"):
            return "Validation failed: Text can't be blank"
        limit = configuration["max_characters"]
        if countable_length(text, configuration["characters_reserved_per_url"]) > limit:
            return f"Validation failed: Text character limit of {limit} exceeded"
        if len(media_ids) > configuration["max_media_attachments"]:
            return f"Cannot attach more than {configuration['max_media_attachments']} files"  # [U] wording
        store = self.data()
        records = [store["media"].get(media_id) for media_id in media_ids]
        usable = [
            r
            for r in records
            if r and r["account_id"] == account_id and r["instance"] == instance and not r["status_id"]
        ]
        if len(usable) != len(media_ids):
            return "Validation failed: Media not found. Already attached to another post?"  # [U] wording
        if any(time.time() < r["ready_at"] for r in usable):
            return "Cannot attach files that have not finished processing. Try again in a moment!"
        if len(usable) > 1 and any(r["type"] != "image" for r in usable):
            return "Cannot attach a video to a post that already contains images"
        return ""

    def show_status(self, request: Request, instance: str, status_id: str) -> Response:
        token, refusal = self.authenticate(request, instance, "read:statuses", optional=True)
        if refusal is not None:
            return refusal
        fault = self.fault_for(request, "lookup", token)
        if early := self.early_answer(fault, request):
            return early
        record = self.data()["statuses"].get(status_id)
        if record is None or record["instance"] != instance:
            return _error(404, "Record not found")
        note_account(request, record["account_id"])
        headers = self.rate_headers(token.account_id if token else record["account_id"])
        return self.deliver(fault, json_response(self.status_json(request, record), 200, headers))

    def statuses(self, request: Request, instance: str) -> Response:
        """GET /api/v1/statuses?id[]=…: the statuses that exist, in the order asked; unknown ids are skipped."""
        token, refusal = self.authenticate(request, instance, "read:statuses", optional=True)
        if refusal is not None:
            return refusal
        fault = self.fault_for(request, "metrics", token)
        if early := self.early_answer(fault, request):
            return early
        store = self.data()
        ids = list(dict.fromkeys(request.args.getlist("id[]") + request.args.getlist("id")))
        records = [
            store["statuses"][i] for i in ids if i in store["statuses"] and store["statuses"][i]["instance"] == instance
        ]
        if records:
            note_account(request, token.account_id if token else records[0]["account_id"])
        headers = self.rate_headers(token.account_id) if token else {}
        return self.deliver(fault, json_response([self.status_json(request, r) for r in records], 200, headers))

    def delete_status(self, request: Request, instance: str, status_id: str) -> Response:
        token, refusal = self.authenticate(request, instance, "write:statuses")
        if refusal is not None or token is None:
            return refusal or _error(401, INVALID_TOKEN)
        fault = self.fault_for(request, "delete", token)
        if early := self.early_answer(fault, request):
            return early
        store = self.data()
        with self.state.lock:
            record = store["statuses"].get(status_id)
            # Someone else's status is "not found" too: Mastodon looks only among the caller's own.
            if record is None or record["account_id"] != token.account_id or record["instance"] != instance:
                return _error(404, "Record not found")
            body = self.status_json(request, record, with_source=True)
            del store["statuses"][status_id]
        return self.deliver(fault, json_response(body, 200, self.rate_headers(token.account_id)))

    # ------------------------------------------------------------------ media

    def upload_media(self, request: Request, instance: str) -> Response:
        token, refusal = self.authenticate(request, instance, "write:media")
        if refusal is not None or token is None:
            return refusal or _error(401, INVALID_TOKEN)
        fault = self.fault_for(request, "upload", token)
        if early := self.early_answer(fault, request):
            return early
        headers = self.rate_headers(token.account_id)
        upload = request.files.get("file")
        if upload is None:
            return _error(422, "Validation failed: File can't be blank", headers=headers)
        content = upload.read()
        content_type = upload.mimetype or "application/octet-stream"
        limits = self.configuration(instance)["media_attachments"]
        if content_type not in limits["supported_mime_types"]:
            return _error(422, "Validation failed: File content type is invalid, File is invalid", headers=headers)
        is_image = content_type.startswith("image/") and content_type != "image/gif"
        size_limit = limits["image_size_limit"] if content_type.startswith("image/") else limits["video_size_limit"]
        if len(content) > size_limit:
            megabytes = size_limit // (1024 * 1024)
            return _error(422, f"Validation failed: File file size must be less than {megabytes} MB", headers=headers)
        description = request.form.get("description", "")
        if len(description) > limits["description_limit"]:
            maximum = limits["description_limit"]
            return _error(
                422, f"Validation failed: Description is too long (maximum is {maximum} characters)", headers=headers
            )
        if content_type == "image/gif":
            kind = "gifv"  # Mastodon turns GIFs into looping video
        elif is_image:
            kind = "image"
        else:
            kind = content_type.split("/", 1)[0] if content_type.split("/", 1)[0] in ("video", "audio") else "unknown"
        processing = self.data()["instances"].get(instance, {}).get("processing_seconds", DEFAULT_PROCESSING_SECONDS)
        record = {
            "id": self.snowflake(self.state.next_id()),
            "instance": instance,
            "account_id": token.account_id,
            "type": kind,
            "content_type": content_type,
            "size": len(content),
            "description": description,
            "created_at": _iso(now()),
            # Images are processed before the answer (200); the rest in the background (202).
            "ready_at": time.time() + (0 if is_image else processing),
            "status_id": None,
        }
        with self.state.lock:
            self.data()["media"][record["id"]] = record
        status = 200 if is_image else 202
        return self.deliver(fault, json_response(self.media_json(request, record), status, headers))

    def show_media(self, request: Request, instance: str, media_id: str) -> Response:
        token, refusal = self.authenticate(request, instance, "write:media")
        if refusal is not None or token is None:
            return refusal or _error(401, INVALID_TOKEN)
        fault = self.fault_for(request, "upload", token)
        if early := self.early_answer(fault, request):
            return early
        record = self.data()["media"].get(media_id)
        if record is None or record["account_id"] != token.account_id or record["instance"] != instance:
            return _error(404, "Record not found")
        status = 200 if time.time() >= record["ready_at"] else 206
        return self.deliver(
            fault, json_response(self.media_json(request, record), status, self.rate_headers(token.account_id))
        )


def _counts(record: dict[str, Any]) -> tuple[int, int, int, int]:
    """Favourites, boosts, replies and quotes growing with the status's age (some statuses do better)."""
    age = max(0.0, time.time() - record["created_ts"])
    rate = 1 + int(record["id"]) % 3
    favourites = int(age * rate / 20)
    return favourites, favourites // 3, favourites // 5, favourites // 10


def _html(text: str, instance: str) -> str:
    """Render status text as Mastodon does: paragraphs, line breaks, linked URLs and hashtags."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "".join(
        "<p>" + "<br />".join(_linkify(line, instance) for line in p.split("\n")) + "</p>" for p in paragraphs
    )


def _linkify(line: str, instance: str) -> str:
    out, position = [], 0
    tokens = sorted(
        [("url", m.start(), _url_end(line, m)) for m in _URL.finditer(line)]
        + [("tag", m.start(), m.end()) for m in _HASHTAG.finditer(line)],
        key=lambda t: t[1],
    )
    for kind, start, end in tokens:
        if start < position:
            continue
        out.append(html.escape(line[position:start], quote=False))
        value = line[start:end]
        if kind == "url":
            scheme, rest = value.split("://", 1)
            out.append(
                f'<a href="{html.escape(value)}" target="_blank" rel="nofollow noopener" translate="no">'
                f'<span class="invisible">{scheme}://</span><span class="">{html.escape(rest, quote=False)}</span>'
                '<span class="invisible"></span></a>'
            )
        else:
            tag = value[1:]
            out.append(
                f'<a href="https://{instance}/tags/{html.escape(tag.lower())}" class="mention hashtag" rel="tag">'
                f"#<span>{html.escape(tag, quote=False)}</span></a>"
            )
        position = end
    out.append(html.escape(line[position:], quote=False))
    return "".join(out)
