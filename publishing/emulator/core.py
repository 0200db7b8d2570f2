"""The emulator's shared machinery: state, OAuth codes and tokens, faults, the request log.

One `EmulatorState` lives in the emulator process. Each platform module is a
`PlatformEmulator` that adds its routes under `/<slug>/…` and answers in that
platform's documented shapes. Tests and people steer it through `/_emulator/…`
(see control.py): inject faults, read the request log, reset.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import html
import itertools
import json
import pickle
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import regex
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.sansio.utils import get_current_url
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request, Response

# Fault kinds every platform answers in its own documented way.
FAULT_KINDS = (
    "expired_token",  # the platform's "token expired/invalid" answer
    "rate_limit",  # 429 (or the platform's equivalent) with its own reset headers
    "duplicate",  # the platform's duplicate-content refusal
    "invalid",  # the platform's invalid-content refusal
    "server_error",  # a 5xx
    "slow",  # answer normally after `delay` seconds
    "lost_response",  # do the work, then drop the connection without answering
    "refresh_fails",  # the token endpoint refuses the refresh token
)

EMULATOR_CLIENT_ID = "letsgrow-emulator-client"
EMULATOR_CLIENT_SECRET = "letsgrow-emulator-secret"  # noqa: S105 (a public, local stand-in)


def now() -> datetime:
    return datetime.now(tz=UTC)


_GRAPHEME = regex.compile(r"\X")


def count_graphemes(text: str) -> int:
    """User-perceived characters: Unicode extended grapheme clusters (UAX #29), as `_GRAPHEME` finds them.

    ASCII text needs no regex: there, only CR LF is one cluster of two characters.
    """
    if text.isascii():
        return len(text) - text.count("\r\n")
    return len(_GRAPHEME.findall(text))


def account_id_for(platform: str, username: str) -> str:
    """A stable numeric id for a username, so reconnecting finds the same account."""
    digest = hashlib.sha256(f"{platform}:{username.lower()}".encode()).hexdigest()
    return str(int(digest[:15], 16))


@dataclass
class Fault:
    platform: str
    kind: str
    operation: str = "*"  # "publish", "upload", "token", "refresh", "metrics", "lookup", "profile", "*"
    account: str = "*"  # account id or username, or "*"
    times: int = 1
    retry_after: int = 30
    delay: float = 0.0
    id: int = 0

    def matches(self, platform: str, operation: str, account: str) -> bool:
        return (
            self.platform == platform
            and self.operation in ("*", operation)
            and (self.account == "*" or self.account == account)
        )


@dataclass
class RecordedRequest:
    id: int
    platform: str
    operation: str
    method: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: Any
    account: str
    at: str
    status: int = 0


@dataclass
class AuthCode:
    platform: str
    username: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    scopes: tuple[str, ...]
    expires_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Token:
    platform: str
    account_id: str
    username: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    kind: str = "access"  # or "refresh"
    revoked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class EmulatorState:
    """Everything the emulator remembers. Thread-safe: the server is threaded."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests: list[RecordedRequest] = []
            self.faults: list[Fault] = []
            self.codes: dict[str, AuthCode] = {}
            self.tokens: dict[str, Token] = {}
            # platform → free-form store each platform module owns (posts, media, containers, …)
            self.stores: dict[str, dict[str, Any]] = {}
            self._ids = itertools.count(1)

    # -- persistence (make run keeps connected accounts across restarts)
    _PERSISTED = ("requests", "faults", "codes", "tokens", "stores")

    def snapshot(self) -> bytes:
        """Everything the emulator knows, as bytes for `restore` (pickle: the file is our own, local)."""
        with self.lock:
            data = {name: getattr(self, name) for name in self._PERSISTED}
            data["next_id"] = next(self._ids)
            self._ids = itertools.count(data["next_id"] + 1)
            return pickle.dumps(data)

    def restore(self, blob: bytes) -> None:
        data = pickle.loads(blob)  # noqa: S301 (written by this emulator to the project's own var/ folder)
        with self.lock:
            for name in self._PERSISTED:
                setattr(self, name, data[name])
            self._ids = itertools.count(data["next_id"])

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def store(self, platform: str) -> dict[str, Any]:
        with self.lock:
            return self.stores.setdefault(platform, {})

    # -- faults
    def add_fault(self, fault: Fault) -> Fault:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self.lock:
            fault.id = self.next_id()
            self.faults.append(fault)
        return fault

    def take_fault(self, platform: str, operation: str, *accounts: str) -> Fault | None:
        """The first armed fault for this call, used up once."""
        with self.lock:
            for fault in self.faults:
                if any(fault.matches(platform, operation, account) for account in (accounts or ("",))):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- OAuth
    def new_code(self, code: AuthCode) -> str:
        value = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[value] = code
        return value

    def take_code(self, value: str) -> AuthCode | None:
        with self.lock:
            return self.codes.pop(value, None)

    def issue_tokens(
        self,
        platform: str,
        *,
        account_id: str,
        username: str,
        scopes: tuple[str, ...],
        ttl: timedelta | None,
        with_refresh: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        access = f"{platform}-at-{secrets.token_urlsafe(24)}"
        refresh = f"{platform}-rt-{secrets.token_urlsafe(24)}" if with_refresh else ""
        with self.lock:
            self.tokens[access] = Token(
                platform, account_id, username, scopes, now() + ttl if ttl else None, extra=dict(extra or {})
            )
            if refresh:
                self.tokens[refresh] = Token(
                    platform, account_id, username, scopes, None, "refresh", extra=dict(extra or {})
                )
        return access, refresh

    def token(self, platform: str, value: str, *, kind: str = "access") -> Token | None:
        """The live token `value` of `platform`, or None (unknown, revoked, expired or wrong kind)."""
        with self.lock:
            token = self.tokens.get(value)
        if token is None or token.platform != platform or token.kind != kind or token.revoked:
            return None
        if token.expires_at and token.expires_at <= now():
            return None
        return token

    def expire_tokens(self, platform: str, account_id: str) -> int:
        """Make every access token of an account expired now (tests: "the token ran out")."""
        with self.lock:
            hits = [t for t in self.tokens.values() if t.platform == platform and t.account_id == account_id]
            for token in hits:
                if token.kind == "access":
                    token.expires_at = now() - timedelta(seconds=1)
        return len(hits)

    # -- log
    def record(self, entry: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(entry)


# --------------------------------------------------------------------------- requests


_MISSING = object()


class _EnvironHeaders(EnvironHeaders):
    """werkzeug's request headers, with `get` answering a missing header without raising KeyError.

    Requests look up headers they do not carry (Transfer-Encoding, Idempotency-Key, …) several
    times each; the exception werkzeug raises and catches for each costs more than the lookup.
    """

    def get(self, key, default=None, type=None):
        if type is not None or not isinstance(key, str):
            return super().get(key, default, type)
        name = key.upper().replace("-", "_")
        value = self.environ.get(name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}", _MISSING)
        return default if value is _MISSING else value


# werkzeug rebuilds the same URL prefix on every request that asks for it (media and profile
# URLs, Link headers): a pure function of scheme, host and root path, so remembered.
_current_url = functools.lru_cache(maxsize=256)(get_current_url)


@functools.lru_cache(maxsize=1024)
def _query_pairs(query_string: bytes) -> tuple[tuple[str, str], ...]:
    """A query string parsed as werkzeug parses `request.args` (status polls repeat theirs)."""
    return tuple(parse_qsl(query_string.decode(), keep_blank_values=True, errors="werkzeug.url_quote"))


class EmulatorRequest(Request):
    """werkzeug's Request, with faster header lookups and remembered query strings and URL prefixes."""

    def __init__(self, environ) -> None:
        super().__init__(environ)
        self.headers = _EnvironHeaders(environ)

    @cached_property
    def args(self):
        return self.parameter_storage_class(_query_pairs(self.query_string))

    @cached_property
    def host_url(self) -> str:
        return _current_url(self.scheme, self.host)

    @cached_property
    def root_url(self) -> str:
        return _current_url(self.scheme, self.host, self.root_path)


class OwnerIndex:
    """The records of one store dict (posts by id, …) grouped by owner, in the dict's order.

    For checks that look at one owner's records on every call (duplicates, counts), so that
    they do not walk every record of every account. The dict stays the truth: every place
    that stores a record calls `added`, and the index rebuilds itself whenever the dict is
    another one (reset, restore) or holds a number of records it did not see (a removal).
    """

    def __init__(self, lock: threading.RLock, owner_key: str) -> None:
        self.lock = lock
        self.owner_key = owner_key
        self._records: dict[str, Any] | None = None
        self._count = 0
        self._groups: dict[Any, list[dict[str, Any]]] = {}

    def of(self, records: dict[str, Any], owner: Any) -> list[dict[str, Any]]:
        """`[r for r in records.values() if r[owner_key] == owner]` (do not change the list)."""
        with self.lock:
            if records is not self._records or len(records) != self._count:
                groups: dict[Any, list[dict[str, Any]]] = {}
                for record in records.values():
                    groups.setdefault(record[self.owner_key], []).append(record)
                self._records, self._count, self._groups = records, len(records), groups
            return self._groups.get(owner, [])

    def added(self, records: dict[str, Any], record: dict[str, Any]) -> None:
        """Tell the index that `record` was just stored in `records` (as its last entry)."""
        with self.lock:
            if records is self._records and len(records) == self._count + 1:
                self._groups.setdefault(record[self.owner_key], []).append(record)
                self._count += 1
            else:
                self._records = None


# --------------------------------------------------------------------------- responses


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # content_type, not mimetype: werkzeug adds no charset to application/json, so skip asking it.
    return Response(json.dumps(data), status=status, headers=headers, content_type="application/json")


class DropConnection(Exception):
    """Raised after the work is done: the server closes the socket without an answer."""


def drop_connection(request: Request) -> Response:
    sock = request.environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    else:  # a server without raw socket access (granian, in run_emulator): let the client time out instead
        time.sleep(60)
    return Response(status=204)


def bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


@functools.lru_cache(maxsize=4096)
def _credential_hash(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


_CONTENT_KEYS = ("CONTENT_TYPE", "CONTENT_LENGTH")
# An environ's keys, in order → (key, header name, is it a credential) for each key that is a
# request header. Environs of one server and client repeat the same keys in the same order.
_HEADER_PLANS: dict[tuple[str, ...], tuple[tuple[str, str, bool], ...]] = {}


def _header_plan(keys: tuple[str, ...]) -> tuple[tuple[str, str, bool], ...]:
    plan = []
    for key in keys:
        if key in _CONTENT_KEYS:
            name = key.replace("_", "-").title()
        elif key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            name = key[5:].replace("_", "-").title()
        else:
            continue
        plan.append((key, name, name.lower() in ("authorization", "cookie")))
    if len(_HEADER_PLANS) >= 1024:
        _HEADER_PLANS.clear()
    _HEADER_PLANS[keys] = result = tuple(plan)
    return result


def redacted_headers(request: Request) -> dict[str, str]:
    """Headers for the log, with credentials reduced to a short hash (tests compare, nobody reads).

    The same names, values and order as `request.headers.items()` (werkzeug's EnvironHeaders
    walks the environ), with the walk planned once per set of keys and the hashes cached:
    tokens repeat on every call.
    """
    environ = request.environ
    keys = tuple(environ)
    plan = _HEADER_PLANS.get(keys)
    if plan is None:
        plan = _header_plan(keys)
    result = {}
    for key, name, secret in plan:
        value = environ[key]
        if key in _CONTENT_KEYS and not value:
            continue
        result[name] = _credential_hash(value) if secret else value
    return result


def request_body(request: Request) -> Any:
    if request.mimetype == "application/json":
        try:
            return request.get_json(force=True, silent=True)
        except Exception:
            return None
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data: dict[str, Any] = request.form.to_dict(flat=True)
        for name, storage in request.files.items():
            content = storage.read()
            storage.stream.seek(0)
            data[name] = {"filename": storage.filename, "content_type": storage.mimetype, "size": len(content)}
        return data
    raw = request.get_data(cache=True)
    if raw:
        return {"bytes": len(raw), "content_type": request.mimetype}
    return None


def verify_pkce(code: AuthCode, verifier: str) -> bool:
    """RFC 7636 §4.6."""
    if not code.code_challenge:
        return not verifier
    if code.code_challenge_method == "plain":
        return secrets.compare_digest(verifier, code.code_challenge)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return secrets.compare_digest(digest, code.code_challenge)


def authorize_page(
    *, platform_name: str, action: str, hidden: dict[str, str], scopes: tuple[str, ...], default_username: str
) -> Response:
    """The consent page a user sees at the emulated platform: grant (as a username) or deny."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in hidden.items()
    )
    scope_items = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes) or "<li>basic access</li>"
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(platform_name)} (emulator) · Authorize LetsGrow</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f4f4f5;margin:0}}
main{{max-width:28rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px #0002}}
.badge{{background:#fde68a;padding:.2rem .5rem;border-radius:6px;font-size:.8rem}}
button{{padding:.6rem 1.2rem;border-radius:8px;border:0;font-size:1rem;cursor:pointer}}
.grant{{background:#16a34a;color:#fff}}.deny{{background:#e5e7eb}}
input[type=text]{{width:100%;padding:.5rem;font-size:1rem}}
</style>
</head><body><main>
<p><span class="badge">Local platform emulator: no real {html.escape(platform_name)} account is used</span></p>
<h1>Authorize LetsGrow on {html.escape(platform_name)}</h1>
<p>LetsGrow asks for:</p><ul>{scope_items}</ul>
<form method="post" action="{html.escape(action)}">{fields}
<p><label>Sign in as<br><input type="text" name="username" value="{html.escape(default_username)}" required></label></p>
<p><button class="grant" type="submit" name="decision" value="grant">Authorize app</button>
<button class="deny" type="submit" name="decision" value="deny">Cancel</button></p>
</form></main></body></html>"""
    return Response(body, mimetype="text/html")


def redirect_to(uri: str, params: dict[str, str]) -> Response:
    separator = "&" if "?" in uri else "?"
    return Response(status=302, headers={"Location": f"{uri}{separator}{urlencode(params)}"})


# --------------------------------------------------------------------------- platform base


class PlatformEmulator:
    """One platform's part of the emulator. Subclasses list routes and answer faults their way."""

    slug: str = ""
    name: str = ""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def rules(self) -> list[Rule]:
        """Werkzeug rules whose endpoint is the name of a method of this class (paths without the prefix)."""
        raise NotImplementedError

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The platform's documented answer for an injected fault (expired_token, rate_limit, …)."""
        raise NotImplementedError

    # helpers for subclasses
    def check_fault(self, request: Request, operation: str, *accounts: str) -> Fault | None:
        """The armed fault for this call, if any. `slow` is applied here; others are returned."""
        fault = self.state.take_fault(self.slug, operation, *accounts)
        if fault and fault.kind == "slow":
            time.sleep(fault.delay or 2)
            return None
        return fault

    def store(self) -> dict[str, Any]:
        return self.state.store(self.slug)


# --------------------------------------------------------------------------- the WSGI app


class EmulatorApp:
    """Routes `/<slug>/…` to each platform, `/_emulator/…` to the control API, and logs every call."""

    def __init__(self, platforms: list[type[PlatformEmulator]], state: EmulatorState | None = None) -> None:
        self.state = state or EmulatorState()
        self.platforms = {cls.slug: cls(self.state) for cls in platforms}
        rules = []
        for slug, platform in self.platforms.items():
            for rule in platform.rules():
                prefixed = f"/{slug}{rule.rule}"
                rules.append(Rule(prefixed, endpoint=(slug, rule.endpoint), methods=rule.methods))
        from publishing.emulator import control

        rules.extend(control.rules())
        self.url_map = Map(rules, strict_slashes=False)
        # No rule depends on the host, so one adapter matches every request; werkzeug binds one
        # per request only for what does depend on it (redirects, websocket handshakes).
        self._adapter = self.url_map.bind("emulator.invalid")
        # (path, method) → (endpoint, arguments): the map never changes, and paths repeat (one
        # per account and operation). Only matches are kept; a refusal is raised each time.
        self._match_path = functools.lru_cache(maxsize=8192)(self._adapter.match)

    def match(self, environ) -> tuple[tuple[str, str], dict[str, Any]]:
        """(endpoint, arguments) for the request, exactly as `url_map.bind_to_environ(environ).match()`."""
        if "HTTP_UPGRADE" in environ:
            return self.url_map.bind_to_environ(environ).match()
        path = (environ.get("PATH_INFO") or "").encode("latin1").decode(errors="replace")
        try:
            endpoint, args = self._match_path(path, environ.get("REQUEST_METHOD", "GET"))
            return endpoint, dict(args)
        except RequestRedirect:  # its URL names this request's host
            return self.url_map.bind_to_environ(environ).match()

    def __call__(self, environ, start_response):
        request = EmulatorRequest(environ)
        entry: RecordedRequest | None = None
        try:
            endpoint, args = self.match(environ)
            if endpoint[0] == "_control":
                from publishing.emulator import control

                response = getattr(control, endpoint[1])(self, request, **args)
            else:
                slug, method_name = endpoint
                entry = RecordedRequest(
                    id=self.state.next_id(),
                    platform=slug,
                    operation=method_name,
                    method=request.method,
                    path=request.path,
                    query=request.args.to_dict(flat=True) if environ.get("QUERY_STRING") else {},
                    headers=redacted_headers(request),
                    body=request_body(request),
                    account="",
                    at=now().isoformat(),
                )
                environ["emulator.entry"] = entry
                response = getattr(self.platforms[slug], method_name)(request, **args)
        except DropConnection:
            response = drop_connection(request)
        except HTTPException as exc:
            response = exc.get_response()
        if entry is not None:
            entry.status = response.status_code
            self.state.record(entry)
        return wsgi_answer(response, environ, start_response)


def wsgi_answer(response: Response, environ, start_response):
    """`response(environ, start_response)`, as a plain list of bytes where that is the same answer.

    A list lets the server send the body in one write instead of iterating it. werkzeug's own
    path is kept for what it changes on the way out: HEAD, 1xx/204/304, Location headers,
    a missing Content-Length, streamed bodies and close callbacks.
    """
    body = response.response
    status = response.status_code
    if (
        type(body) is not list
        or response.direct_passthrough
        or response._on_close
        or status < 200
        or status in (204, 304)
        or environ.get("REQUEST_METHOD") == "HEAD"
        or not all(type(chunk) is bytes for chunk in body)
    ):
        return response(environ, start_response)
    headers = response.headers.to_wsgi_list()
    has_length = False
    for key, _value in headers:
        lowered = key.lower()
        if lowered == "content-length":
            has_length = True
        elif lowered in ("location", "content-location"):
            return response(environ, start_response)
    if not has_length:
        return response(environ, start_response)
    start_response(response.status, headers)
    return body


def note_account(request: Request, account: str) -> None:
    """Tag the logged request with the account it acted for (tests count posts per account)."""
    entry = request.environ.get("emulator.entry")
    if entry is not None:
        entry.account = account


def as_dict(obj: Any) -> Any:
    return asdict(obj)
