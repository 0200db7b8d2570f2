"""Bluesky / AT Protocol, as a PDS and its AppView answer (../shared/PLATFORMS.md §11, specs/bluesky-lexicons/).

Served under /bluesky/xrpc/<nsid>, the real XRPC paths; in emulator mode the same base plays
both the account's PDS and the AppView.

- Sessions: `createSession` takes any identifier with an app-password-shaped password
  (xxxx-xxxx-xxxx-xxxx). Tokens are JWT-shaped (unsigned for real) and live 120 minutes
  (access) and 90 days (refresh). `refreshSession` rotates the refresh token; the old one stays
  valid for a 2-hour grace period, and reusing it inside that period returns the same session
  again (the reference PDS re-grants the same token id).
- Auth errors as the PDS sends them: an expired token is **400** ExpiredToken, an unknown or
  malformed one 400 InvalidToken, a missing one 401.
- `createRecord` validates an `app.bsky.feed.post` against its lexicon (text ≤ 300 graphemes and
  ≤ 3000 bytes, facets, images embed with uploaded blobs ≤ 2 MB). A second create with the same
  record key is a **500** InternalServerError, as the reference PDS answered.
- `app.bsky.feed.getPosts`: like/repost/reply/quote counts grow with the post's age.

Stricter than the real services, on purpose: facet byte ranges must lie inside the text and on
UTF-8 character boundaries (the apps silently drop a bad facet, so a wrong offset would go
unnoticed), and handles given at login are normalised to valid handles instead of refused.
Bluesky has no duplicate-content refusal: the `duplicate` fault answers like a re-used
record key (500).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from publishing.emulator.core import (
    DropConnection,
    Fault,
    PlatformEmulator,
    Token,
    bearer,
    count_graphemes,
    json_response,
    note_account,
    now,
)

POST = "app.bsky.feed.post"
ACCESS_TTL = timedelta(minutes=120)
REFRESH_TTL = timedelta(days=90)
REFRESH_GRACE = timedelta(hours=2)
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 2_000_000
MAX_THUMB_BYTES = 1_000_000
BLOB_UPLOAD_LIMIT = 5_000_000  # the reference PDS's default blobUploadLimit
MAX_GET_POSTS = 25

APP_PASSWORD = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$")
HANDLE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
NSID = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+$")
URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")
DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
B32 = "234567abcdefghijklmnopqrstuvwxyz"
FACET_FEATURES = (
    "app.bsky.richtext.facet#mention",
    "app.bsky.richtext.facet#link",
    "app.bsky.richtext.facet#tag",
)


class InvalidRecord(Exception):
    """A record the lexicon refuses: (error name, message) as the PDS answers it."""

    def __init__(self, message: str, error: str = "InvalidRequest") -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": error, "message": message}, status, headers)


def graphemes(text: str) -> int:
    return count_graphemes(text)


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def did_for(handle: str) -> str:
    """A stable did:plc for a handle (24 base32 characters, as real did:plc identifiers have)."""
    return "did:plc:" + b32(hashlib.sha256(f"bluesky:{handle}".encode()).digest())[:24]


def fake_cid(data: bytes, *, raw: bool = False) -> str:
    """A CIDv1-shaped string: bafyrei… for records (dag-cbor), bafkrei… for blobs (raw)."""
    return ("bafkrei" if raw else "bafyrei") + b32(hashlib.sha256(data).digest())[:52]


def new_tid() -> str:
    value = ((time.time_ns() // 1000) << 10) | secrets.randbelow(1024)
    return "".join(B32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _jwt(payload: dict[str, Any], typ: str) -> str:
    """A JWT-shaped token. The signature is random: only this emulator ever checks these tokens."""
    signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{_b64url({'typ': typ, 'alg': 'HS256'})}.{_b64url(payload)}.{signature}"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class BlueskyEmulator(PlatformEmulator):
    slug = "bluesky"
    name = "Bluesky"

    def rules(self) -> list[Rule]:
        def xrpc(nsid: str, endpoint: str, method: str) -> Rule:
            return Rule(f"/xrpc/{nsid}", endpoint=endpoint, methods=[method])

        return [
            xrpc("com.atproto.server.createSession", "create_session", "POST"),
            xrpc("com.atproto.server.refreshSession", "refresh_session", "POST"),
            xrpc("com.atproto.server.deleteSession", "delete_session", "POST"),
            xrpc("com.atproto.identity.resolveHandle", "resolve_handle", "GET"),
            xrpc("com.atproto.repo.createRecord", "create_record", "POST"),
            xrpc("com.atproto.repo.getRecord", "get_record", "GET"),
            xrpc("com.atproto.repo.listRecords", "list_records", "GET"),
            xrpc("com.atproto.repo.deleteRecord", "delete_record", "POST"),
            xrpc("com.atproto.repo.uploadBlob", "upload_blob", "POST"),
            xrpc("app.bsky.actor.getProfile", "get_profile", "GET"),
            xrpc("app.bsky.feed.getPosts", "get_posts", "GET"),
        ]

    # ------------------------------------------------------------------ faults

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The PDS's (or AppView's) own answer for each injected fault."""
        appview = "/xrpc/app.bsky." in request.path
        if fault.kind == "expired_token":
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        if fault.kind == "refresh_fails":
            return xrpc_error(400, "ExpiredToken", "Token has been revoked")
        if fault.kind == "rate_limit":
            if "createSession" in request.path:
                limit, window = 30, 300
            elif appview:
                limit, window = 3000, 300
            else:
                limit, window = 5000, 3600
            headers = {
                "RateLimit-Limit": str(limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(int(time.time()) + fault.retry_after),  # Unix seconds
                "RateLimit-Policy": f"{limit};w={window}",
            }
            return xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        if fault.kind == "invalid":
            return xrpc_error(400, "InvalidRequest", f"Invalid {POST} record: grapheme too big (maximum 300, got 301)")
        if fault.kind == "duplicate":
            return xrpc_error(500, "InternalServerError", "Internal Server Error")
        if appview:
            return xrpc_error(502, "UpstreamFailure", "Upstream Failure")
        return xrpc_error(503, "NotEnoughResources", "Service Unavailable")

    def _fault(self, request: Request, operation: str, *accounts: str) -> tuple[Response | None, bool]:
        """(an answer to send instead, whether to drop the connection after doing the work)."""
        fault = self.check_fault(request, operation, *[a for a in accounts if a])
        if fault is None:
            return None, False
        if fault.kind == "lost_response":
            return None, True
        return self.fault_response(fault, request), False

    # ------------------------------------------------------------------ accounts and sessions

    def _accounts(self) -> dict[str, dict[str, Any]]:
        return self.store().setdefault("accounts", {})

    def _ensure_account(self, handle: str) -> dict[str, Any]:
        with self.state.lock:
            did = did_for(handle)
            account = self._accounts().get(did)
            if account is None:
                label = handle.split(".")[0].replace("-", " ").title()
                account = {"did": did, "handle": handle, "displayName": label, "createdAt": _iso(now())}
                self._accounts()[did] = account
                self.store().setdefault("handles", {})[handle] = did
            return account

    def _account(self, actor: str) -> dict[str, Any] | None:
        """The account for a DID or a handle, if this PDS knows it."""
        actor = actor.strip().lower().removeprefix("@") if not actor.startswith("did:") else actor
        with self.state.lock:
            did = actor if actor.startswith("did:") else self.store().get("handles", {}).get(actor, "")
            return self._accounts().get(did)

    @staticmethod
    def _normalise_handle(identifier: str) -> str:
        """The handle an identifier logs in as: emails and bare names map to <name>.bsky.social.

        Real handles allow only letters, digits and hyphens; demo names like "contract_user"
        are mapped to the nearest valid handle rather than refused.
        """
        value = identifier.strip().lower().removeprefix("@")
        if "@" in value:
            value = value.split("@", 1)[0]
        value = re.sub(r"[^a-z0-9.-]+", "-", value).strip(".-")
        value = ".".join(label.strip("-") for label in value.split(".") if label.strip("-"))
        if "." not in value:
            value = f"{value}.bsky.social"
        return value

    def _issue_session(self, request: Request, account: dict[str, Any], *, jti: str = "") -> dict[str, Any]:
        did, handle = account["did"], account["handle"]
        issued = now()
        audience = f"did:web:{request.host.split(':')[0]}"
        access_exp = issued + ACCESS_TTL
        access = _jwt(
            {
                "scope": "com.atproto.appPass",
                "sub": did,
                "aud": audience,
                "iat": int(issued.timestamp()),
                "exp": int(access_exp.timestamp()),
            },
            "at+jwt",
        )
        jti = jti or secrets.token_urlsafe(32)
        with self.state.lock:
            sessions = self.store().setdefault("sessions", {})
            # Re-granting inside the grace period keeps the session the first rotation made.
            session = sessions.setdefault(
                jti, {"did": did, "expires_at": _iso(issued + REFRESH_TTL), "next_jti": None, "revoked": False}
            )
            refresh = _jwt(
                {
                    "scope": "com.atproto.refresh",
                    "sub": did,
                    "aud": audience,
                    "jti": jti,
                    "iat": int(issued.timestamp()),
                    "exp": int(_parse_iso(session["expires_at"]).timestamp()),
                },
                "refresh+jwt",
            )
            self.state.tokens[access] = Token(self.slug, did, handle, ("com.atproto.appPass",), access_exp)
            self.state.tokens[refresh] = Token(
                self.slug, did, handle, ("com.atproto.refresh",), None, "refresh", extra={"jti": jti}
            )
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": handle,
            "did": did,
            "didDoc": self._did_doc(request, account),
            "email": f"{handle.split('.')[0]}@example.com",
            "emailConfirmed": True,
            "emailAuthFactor": False,
            "active": True,
        }

    def _did_doc(self, request: Request, account: dict[str, Any]) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": account["did"],
            "alsoKnownAs": [f"at://{account['handle']}"],
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": f"{request.host_url.rstrip('/')}/{self.slug}",
                }
            ],
        }

    def _authenticate(self, request: Request, kind: str = "access") -> tuple[Token | None, Response | None]:
        """The caller's token, or the PDS's answer: 401 without one, 400 InvalidToken/ExpiredToken otherwise."""
        value = bearer(request)
        if not value:
            return None, xrpc_error(401, "AuthMissing", "Authentication Required")
        with self.state.lock:
            token = self.state.tokens.get(value)
            if token is None or token.platform != self.slug:
                return None, xrpc_error(400, "InvalidToken", "Token could not be verified")
            if token.kind != kind:
                return None, xrpc_error(400, "InvalidToken", "Bad token scope")
            if token.revoked:
                return None, xrpc_error(400, "ExpiredToken", "Token has been revoked")
            if token.expires_at and token.expires_at <= now():
                return None, xrpc_error(400, "ExpiredToken", "Token has expired")
        return token, None

    # ------------------------------------------------------------------ com.atproto.server

    def create_session(self, request: Request) -> Response:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return xrpc_error(400, "InvalidRequest", "Request body must be JSON")
        for name in ("identifier", "password"):
            if not isinstance(body.get(name), str):
                return xrpc_error(400, "InvalidRequest", f'Input must have the property "{name}"')
        identifier, password = body["identifier"], body["password"]
        if identifier.startswith("did:"):
            account = self._account(identifier)
        else:
            handle = self._normalise_handle(identifier)
            account = self._ensure_account(handle) if HANDLE.match(handle) else None
        if account is None or not APP_PASSWORD.match(password):
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        note_account(request, account["did"])
        answer, lost = self._fault(request, "token", account["did"], account["handle"])
        if answer is not None:
            return answer
        session = self._issue_session(request, account)
        if lost:
            raise DropConnection
        return json_response(session)

    def refresh_session(self, request: Request) -> Response:
        token, error = self._authenticate(request, kind="refresh")
        if token is None:
            return error or xrpc_error(400, "InvalidToken", "Token could not be verified")
        note_account(request, token.account_id)
        answer, lost = self._fault(request, "refresh", token.account_id, token.username)
        if answer is not None:
            return answer
        with self.state.lock:
            sessions = self.store().setdefault("sessions", {})
            jti = token.extra["jti"]
            session = sessions.get(jti)
            current = now()
            if session is None or session["revoked"] or _parse_iso(session["expires_at"]) <= current:
                return xrpc_error(400, "ExpiredToken", "Token has been revoked")
            # The old token now lives at most two more hours; reusing it inside that window gets
            # the same next session (two workers refreshing at once both succeed).
            grace = min(_parse_iso(session["expires_at"]), current + REFRESH_GRACE)
            session["expires_at"] = _iso(grace)
            session["next_jti"] = session["next_jti"] or secrets.token_urlsafe(32)
            next_jti = session["next_jti"]
            account = self._accounts()[token.account_id]
        answer_body = self._issue_session(request, account, jti=next_jti)
        answer_body.pop("email", None)
        if lost:
            raise DropConnection
        return json_response(answer_body)

    def delete_session(self, request: Request) -> Response:
        token, error = self._authenticate(request, kind="refresh")
        if token is None:
            return error or xrpc_error(400, "InvalidToken", "Token could not be verified")
        note_account(request, token.account_id)
        answer, lost = self._fault(request, "token", token.account_id, token.username)
        if answer is not None:
            return answer
        with self.state.lock:
            session = self.store().setdefault("sessions", {}).get(token.extra["jti"])
            if session is not None:
                session["revoked"] = True
        if lost:
            raise DropConnection
        return Response(status=200)

    # ------------------------------------------------------------------ identity and profiles

    def _caller(self, request: Request) -> str:
        """The DID behind an optional bearer token ("" without a valid one): public reads need none."""
        with self.state.lock:
            token = self.state.tokens.get(bearer(request))
        return token.account_id if token is not None and token.platform == self.slug else ""

    def resolve_handle(self, request: Request) -> Response:
        handle = request.args.get("handle", "").strip().lower()
        caller = self._caller(request)
        note_account(request, caller)
        if not handle:
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "handle"')
        if not HANDLE.match(handle):
            return xrpc_error(400, "InvalidRequest", "Error: handle must be a valid handle")
        answer, lost = self._fault(request, "profile", caller)
        if answer is not None:
            return answer
        account = self._account(handle)
        # Any *.bsky.social handle exists here, so demo posts can mention anyone there.
        if account is None and handle.endswith(".bsky.social"):
            account = self._ensure_account(handle)
        if lost:
            raise DropConnection
        if account is None:
            return xrpc_error(400, "HandleNotFound", "Unable to resolve handle")
        return json_response({"did": account["did"]})

    def get_profile(self, request: Request) -> Response:
        actor = request.args.get("actor", "")
        if not actor:
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "actor"')
        account = self._account(actor)
        note_account(request, account["did"] if account else self._caller(request))
        answer, lost = self._fault(request, "profile", *((account["did"], account["handle"]) if account else ()))
        if answer is not None:
            return answer
        if lost:
            raise DropConnection
        if account is None:
            return xrpc_error(400, "InvalidRequest", "Profile not found")
        with self.state.lock:
            posts = sum(1 for r in self._records().values() if r["did"] == account["did"])
        return json_response(
            {
                "did": account["did"],
                "handle": account["handle"],
                "displayName": account["displayName"],
                "avatar": f"{request.host_url.rstrip('/')}/_media/avatar-{account['did'][8:]}.png",
                "description": "An account on the LetsGrow platform emulator.",
                "followersCount": 42,
                "followsCount": 7,
                "postsCount": posts,
                "indexedAt": account["createdAt"],
                "createdAt": account["createdAt"],
            }
        )

    # ------------------------------------------------------------------ com.atproto.repo

    def _records(self) -> dict[str, dict[str, Any]]:
        return self.store().setdefault("records", {})

    def _blobs(self) -> dict[str, dict[str, Any]]:
        return self.store().setdefault("blobs", {})

    def create_record(self, request: Request) -> Response:
        token, error = self._authenticate(request)
        if token is None:
            return error or xrpc_error(400, "InvalidToken", "Token could not be verified")
        did = token.account_id
        note_account(request, did)
        answer, lost = self._fault(request, "publish", did, token.username)
        if answer is not None:
            return answer
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return xrpc_error(400, "InvalidRequest", "Request body must be JSON")
        for name in ("repo", "collection", "record"):
            if name not in body:
                return xrpc_error(400, "InvalidRequest", f'Input must have the property "{name}"')
        if body["repo"] not in (did, token.username):
            return xrpc_error(401, "AuthenticationRequired", "Authentication Required")
        collection = body["collection"]
        if not isinstance(collection, str) or not NSID.match(collection):
            return xrpc_error(400, "InvalidRequest", "Input/collection must be a valid nsid")
        if collection != POST:
            return xrpc_error(400, "InvalidRequest", f"This emulator stores only {POST} records, not {collection}")
        rkey = body.get("rkey") or new_tid()
        if not isinstance(rkey, str) or not TID.match(rkey):
            return xrpc_error(400, "InvalidRequest", f"Invalid record key for {POST}: must be a TID, got {rkey!r}")
        record = body["record"]
        if not isinstance(record, dict) or record.get("$type") != collection:
            return xrpc_error(400, "InvalidRequest", f"Invalid $type: expected {collection}")
        validated = body.get("validate") is not False
        if validated:
            try:
                self._validate_post(record, did)
            except InvalidRecord as exc:
                return xrpc_error(400, exc.error, exc.message)
        uri = f"at://{did}/{collection}/{rkey}"
        cid = fake_cid(json.dumps(record, sort_keys=True).encode())
        with self.state.lock:
            if uri in self._records():
                # What the reference PDS answered to a second create with the same key.
                return xrpc_error(500, "InternalServerError", "Internal Server Error")
            self._records()[uri] = {
                "uri": uri,
                "cid": cid,
                "did": did,
                "collection": collection,
                "rkey": rkey,
                "value": record,
                "indexedAt": _iso(now()),
            }
        commit = {"cid": fake_cid(f"commit:{uri}".encode()), "rev": new_tid()}
        if lost:
            raise DropConnection
        return json_response(
            {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid" if validated else "unknown"}
        )

    def _repo_did(self, repo: str) -> str:
        account = self._account(repo)
        return account["did"] if account else repo

    def get_record(self, request: Request) -> Response:
        args = request.args
        for name in ("repo", "collection", "rkey"):
            if not args.get(name):
                return xrpc_error(400, "InvalidRequest", f'Error: Params must have the property "{name}"')
        did = self._repo_did(args["repo"])
        note_account(request, did)
        answer, lost = self._fault(request, "lookup", did)
        if answer is not None:
            return answer
        uri = f"at://{did}/{args['collection']}/{args['rkey']}"
        with self.state.lock:
            stored = self._records().get(uri)
        if lost:
            raise DropConnection
        if stored is None:
            return xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return json_response({"uri": uri, "cid": stored["cid"], "value": stored["value"]})

    def list_records(self, request: Request) -> Response:
        args = request.args
        for name in ("repo", "collection"):
            if not args.get(name):
                return xrpc_error(400, "InvalidRequest", f'Error: Params must have the property "{name}"')
        try:
            limit = int(args.get("limit", 50))
        except ValueError:
            return xrpc_error(400, "InvalidRequest", "Error: limit must be an integer")
        if not 1 <= limit <= 100:
            return xrpc_error(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        did = self._repo_did(args["repo"])
        note_account(request, did)
        answer, lost = self._fault(request, "lookup", did)
        if answer is not None:
            return answer
        with self.state.lock:
            mine = [r for r in self._records().values() if r["did"] == did and r["collection"] == args["collection"]]
        # Newest first: TIDs sort by time.
        mine.sort(key=lambda r: r["rkey"], reverse=args.get("reverse") != "true")
        cursor = args.get("cursor")
        if cursor:
            mine = [r for r in mine if (r["rkey"] < cursor if args.get("reverse") != "true" else r["rkey"] > cursor)]
        page = mine[:limit]
        if lost:
            raise DropConnection
        body: dict[str, Any] = {"records": [{"uri": r["uri"], "cid": r["cid"], "value": r["value"]} for r in page]}
        if len(mine) > limit:
            body["cursor"] = page[-1]["rkey"]
        return json_response(body)

    def delete_record(self, request: Request) -> Response:
        token, error = self._authenticate(request)
        if token is None:
            return error or xrpc_error(400, "InvalidToken", "Token could not be verified")
        did = token.account_id
        note_account(request, did)
        answer, lost = self._fault(request, "delete", did, token.username)
        if answer is not None:
            return answer
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return xrpc_error(400, "InvalidRequest", "Request body must be JSON")
        for name in ("repo", "collection", "rkey"):
            if not isinstance(body.get(name), str):
                return xrpc_error(400, "InvalidRequest", f'Input must have the property "{name}"')
        if body["repo"] not in (did, token.username):
            return xrpc_error(401, "AuthenticationRequired", "Authentication Required")
        uri = f"at://{did}/{body['collection']}/{body['rkey']}"
        with self.state.lock:
            # "Delete a record, or ensure it doesn't exist": deleting twice succeeds.
            self._records().pop(uri, None)
        if lost:
            raise DropConnection
        return json_response({"commit": {"cid": fake_cid(f"delete:{uri}".encode()), "rev": new_tid()}})

    def upload_blob(self, request: Request) -> Response:
        token, error = self._authenticate(request)
        if token is None:
            return error or xrpc_error(400, "InvalidToken", "Token could not be verified")
        did = token.account_id
        note_account(request, did)
        answer, lost = self._fault(request, "upload", did, token.username)
        if answer is not None:
            return answer
        data = request.get_data(cache=True)
        if len(data) > BLOB_UPLOAD_LIMIT:
            return xrpc_error(413, "PayloadTooLarge", "request entity too large")
        if not data:
            return xrpc_error(400, "InvalidRequest", "Request body is empty")
        mime = request.mimetype or "application/octet-stream"
        cid = fake_cid(data, raw=True)
        with self.state.lock:
            self._blobs()[cid] = {"did": did, "mimeType": mime, "size": len(data), "uploadedAt": _iso(now())}
        if lost:
            raise DropConnection
        return json_response({"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}})

    # ------------------------------------------------------------------ record validation

    def _validate_post(self, record: dict[str, Any], did: str) -> None:
        """Check an app.bsky.feed.post against its lexicon; raise InvalidRecord as the PDS answers."""
        prefix = f"Invalid {POST} record:"
        text = record.get("text")
        if not isinstance(text, str):
            raise InvalidRecord(f'{prefix} Record must have the property "text"')
        count = graphemes(text)
        if count > MAX_GRAPHEMES:
            raise InvalidRecord(f"{prefix} grapheme too big (maximum {MAX_GRAPHEMES}, got {count})")
        encoded = text.encode("utf-8")
        if len(encoded) > MAX_TEXT_BYTES:
            raise InvalidRecord(f"{prefix} string too long (maximum {MAX_TEXT_BYTES}, got {len(encoded)})")
        created = record.get("createdAt")
        if not isinstance(created, str):
            raise InvalidRecord(f'{prefix} Record must have the property "createdAt"')
        if not DATETIME.match(created):
            raise InvalidRecord(
                f"{prefix} Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
            )
        langs = record.get("langs")
        if langs is not None and (
            not isinstance(langs, list) or len(langs) > 3 or not all(isinstance(x, str) for x in langs)
        ):
            raise InvalidRecord(f"{prefix} Record/langs must be an array of at most 3 language tags")
        tags = record.get("tags")
        if tags is not None and (
            not isinstance(tags, list)
            or len(tags) > 8
            or not all(isinstance(t, str) and graphemes(t) <= 64 and len(t.encode()) <= 640 for t in tags)
        ):
            raise InvalidRecord(f"{prefix} Record/tags must be at most 8 tags of at most 64 graphemes")
        facets = record.get("facets")
        if facets is not None:
            if not isinstance(facets, list):
                raise InvalidRecord(f"{prefix} Record/facets must be an array")
            for number, facet in enumerate(facets):
                self._validate_facet(facet, encoded, f"{prefix} Record/facets/{number}")
        embed = record.get("embed")
        if embed is not None:
            self._validate_embed(embed, did, f"{prefix} Record/embed")

    @staticmethod
    def _validate_facet(facet: Any, text: bytes, where: str) -> None:
        if not isinstance(facet, dict):
            raise InvalidRecord(f"{where} must be an object")
        index = facet.get("index")
        if not isinstance(index, dict):
            raise InvalidRecord(f'{where} must have the property "index"')
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
            raise InvalidRecord(f"{where}/index must have integer byteStart and byteEnd")
        if not 0 <= start < end <= len(text):
            raise InvalidRecord(
                f"{where}/index [{start}, {end}) must lie inside the text's {len(text)} UTF-8 bytes, start before end"
            )

        def on_boundary(position: int) -> bool:
            # A UTF-8 continuation byte is 0b10xxxxxx: no character starts there.
            return position == len(text) or (text[position] & 0xC0) != 0x80

        if not (on_boundary(start) and on_boundary(end)):
            raise InvalidRecord(f"{where}/index [{start}, {end}) cuts a character in two: offsets are UTF-8 bytes")
        features = facet.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidRecord(f'{where} must have the property "features" (a non-empty array)')
        for feature in features:
            kind = feature.get("$type") if isinstance(feature, dict) else None
            if kind not in FACET_FEATURES:
                raise InvalidRecord(f'{where}/features/0 must be an object which includes the "$type" property')
            if kind.endswith("#mention") and not (isinstance(feature.get("did"), str) and DID.match(feature["did"])):
                raise InvalidRecord(f"{where}/features/0/did must be a valid did")
            if kind.endswith("#link") and not (isinstance(feature.get("uri"), str) and URI.match(feature["uri"])):
                raise InvalidRecord(f"{where}/features/0/uri must be a uri")
            if kind.endswith("#tag"):
                tag = feature.get("tag")
                if not isinstance(tag, str) or not tag or graphemes(tag) > 64 or len(tag.encode()) > 640:
                    raise InvalidRecord(f"{where}/features/0/tag must be 1 to 64 graphemes")

    def _validate_embed(self, embed: Any, did: str, where: str) -> None:
        kind = embed.get("$type") if isinstance(embed, dict) else None
        if kind == "app.bsky.embed.images":
            images = embed.get("images")
            if not isinstance(images, list):
                raise InvalidRecord(f'{where} must have the property "images"')
            if len(images) > MAX_IMAGES:
                raise InvalidRecord(f"{where}/images must not have more than {MAX_IMAGES} elements")
            for number, image in enumerate(images):
                here = f"{where}/images/{number}"
                if not isinstance(image, dict):
                    raise InvalidRecord(f"{here} must be an object")
                if not isinstance(image.get("alt"), str):
                    raise InvalidRecord(f'{here} must have the property "alt"')
                self._check_blob(image.get("image"), did, "image/", MAX_IMAGE_BYTES, f"{here}/image")
                ratio = image.get("aspectRatio")
                if ratio is not None and not (
                    isinstance(ratio, dict)
                    and all(isinstance(ratio.get(k), int) and ratio[k] >= 1 for k in ("width", "height"))
                ):
                    raise InvalidRecord(f"{here}/aspectRatio must have integer width and height of at least 1")
            return
        if kind == "app.bsky.embed.external":
            external = embed.get("external")
            if not isinstance(external, dict) or not all(
                isinstance(external.get(k), str) for k in ("uri", "title", "description")
            ):
                raise InvalidRecord(f"{where}/external must have uri, title and description")
            if not URI.match(external["uri"]):
                raise InvalidRecord(f"{where}/external/uri must be a uri")
            if "thumb" in external:
                self._check_blob(external["thumb"], did, "image/", MAX_THUMB_BYTES, f"{where}/external/thumb")
            return
        raise InvalidRecord(f"{where} must be an app.bsky.embed.images or app.bsky.embed.external (emulated here)")

    def _check_blob(self, blob: Any, did: str, accept: str, max_size: int, where: str) -> None:
        """A blob reference must name a blob this account uploaded; its real size and type must fit."""
        if not (
            isinstance(blob, dict)
            and blob.get("$type") == "blob"
            and isinstance(blob.get("ref"), dict)
            and isinstance(blob["ref"].get("$link"), str)
            and isinstance(blob.get("mimeType"), str)
            and isinstance(blob.get("size"), int)
        ):
            raise InvalidRecord(f"{where} should be a blob ref")
        cid = blob["ref"]["$link"]
        with self.state.lock:
            stored = self._blobs().get(cid)
        if stored is None or stored["did"] != did:
            raise InvalidRecord(f"Could not find blob: {cid}", "BlobNotFound")
        if not stored["mimeType"].startswith(accept):
            raise InvalidRecord(
                f"Wrong type of file. It is {stored['mimeType']} but it must match {accept}*.", "InvalidMimeType"
            )
        if stored["size"] > max_size:
            raise InvalidRecord(
                f"This file is too large. It is {stored['size']:,} bytes but the maximum size is {max_size:,} bytes.",
                "BlobTooLarge",
            )

    # ------------------------------------------------------------------ app.bsky (AppView)

    def get_posts(self, request: Request) -> Response:
        uris = request.args.getlist("uris")
        if not uris:
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "uris"')
        if len(uris) > MAX_GET_POSTS:
            return xrpc_error(400, "InvalidRequest", f"Error: uris must not have more than {MAX_GET_POSTS} elements")
        owner = uris[0][len("at://") :].split("/")[0] if uris[0].startswith("at://") else ""
        note_account(request, owner)
        answer, lost = self._fault(request, "metrics", owner)
        if answer is not None:
            return answer
        with self.state.lock:
            found = [dict(self._records()[uri]) for uri in uris if uri in self._records()]
            accounts = {r["did"]: dict(self._accounts().get(r["did"], {})) for r in found}
        posts = [self._post_view(request, record, accounts[record["did"]]) for record in found]
        if lost:
            raise DropConnection
        return json_response({"posts": posts})

    def _post_view(self, request: Request, record: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
        """An app.bsky.feed.defs#postView whose counts grow with the post's age (a steady rate per post)."""
        minutes = max(0.0, (now() - _parse_iso(record["indexedAt"])).total_seconds() / 60)
        rate = 0.5 + int(hashlib.sha256(record["uri"].encode()).hexdigest()[:4], 16) % 100 / 40  # 0.5-3 likes/min
        likes = int(minutes * rate)
        view: dict[str, Any] = {
            "uri": record["uri"],
            "cid": record["cid"],
            "author": {
                "did": record["did"],
                "handle": account.get("handle", "handle.invalid"),
                "displayName": account.get("displayName", ""),
            },
            "record": record["value"],
            "likeCount": likes,
            "repostCount": likes // 6,
            "replyCount": likes // 10,
            "quoteCount": likes // 25,
            "bookmarkCount": likes // 15,
            "indexedAt": record["indexedAt"],
            "labels": [],
        }
        embed = record["value"].get("embed") or {}
        if embed.get("$type") == "app.bsky.embed.images":
            base = request.host_url.rstrip("/")
            view["embed"] = {
                "$type": "app.bsky.embed.images#view",
                "images": [
                    {
                        "thumb": f"{base}/_media/{image['image']['ref']['$link']}.png",
                        "fullsize": f"{base}/_media/{image['image']['ref']['$link']}.png",
                        "alt": image.get("alt", ""),
                        **({"aspectRatio": image["aspectRatio"]} if "aspectRatio" in image else {}),
                    }
                    for image in embed.get("images", [])
                ],
            }
        return view
