"""The OAuth 2.0 authorization-code flow most platforms share (RFC 6749, PKCE RFC 7636).

Platform modules call these from their own routes and shape errors their way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from werkzeug.wrappers import Request, Response

from publishing.emulator.core import (
    EMULATOR_CLIENT_ID,
    EMULATOR_CLIENT_SECRET,
    AuthCode,
    EmulatorState,
    account_id_for,
    authorize_page,
    now,
    redirect_to,
    verify_pkce,
)


@dataclass(frozen=True)
class OAuthRules:
    platform: str
    name: str
    decision_path: str  # absolute path the consent form posts to (with the /<slug> prefix)
    require_pkce: bool = False
    default_username: str = "letsgrow_demo"


def show_authorize(request: Request, rules: OAuthRules) -> Response:
    """GET authorize: check the client and redirect URI, then show the consent page."""
    args = request.args
    if args.get("client_id") != EMULATOR_CLIENT_ID:
        return Response("Unknown client_id: this app is not registered here.", status=400)
    if args.get("response_type", "code") != "code":
        return Response("Only response_type=code is supported.", status=400)
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return Response("A redirect_uri is required.", status=400)
    if rules.require_pkce and not args.get("code_challenge"):
        return redirect_to(
            redirect_uri,
            {"error": "invalid_request", "error_description": "PKCE is required", "state": args.get("state", "")},
        )
    if args.get("code_challenge") and args.get("code_challenge_method", "plain") not in ("S256", "plain"):
        return redirect_to(redirect_uri, {"error": "invalid_request", "state": args.get("state", "")})
    scope = args.get("scope", "")
    hidden = {
        "client_id": args.get("client_id", ""),
        "redirect_uri": redirect_uri,
        "state": args.get("state", ""),
        "scope": scope,
        "code_challenge": args.get("code_challenge", ""),
        "code_challenge_method": args.get("code_challenge_method", "plain" if args.get("code_challenge") else ""),
    }
    return authorize_page(
        platform_name=rules.name,
        action=rules.decision_path,
        hidden=hidden,
        scopes=tuple(scope.replace(",", " ").split()),
        default_username=rules.default_username,
    )


def decide(request: Request, state: EmulatorState, rules: OAuthRules) -> Response:
    """POST from the consent page: redirect back with a code, or with error=access_denied."""
    form = request.form
    redirect_uri = form.get("redirect_uri", "")
    if form.get("decision") != "grant":
        return redirect_to(
            redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The user denied the request",
                "state": form.get("state", ""),
            },
        )
    username = (form.get("username") or rules.default_username).strip().lstrip("@")
    code = state.new_code(
        AuthCode(
            platform=rules.platform,
            username=username,
            client_id=form.get("client_id", ""),
            redirect_uri=redirect_uri,
            code_challenge=form.get("code_challenge", ""),
            code_challenge_method=form.get("code_challenge_method", ""),
            scopes=tuple(form.get("scope", "").replace(",", " ").split()),
            expires_at=now() + timedelta(minutes=10),
        )
    )
    return redirect_to(redirect_uri, {"code": code, "state": form.get("state", "")})


@dataclass(frozen=True)
class CodeCheck:
    code: AuthCode | None
    error: str = ""  # OAuth error code: invalid_grant, invalid_client, invalid_request


def redeem_code(
    state: EmulatorState, *, code: str, client_id: str, client_secret: str | None, redirect_uri: str, code_verifier: str
) -> CodeCheck:
    """Check a token request for the authorization_code grant; the code is single-use either way."""
    if client_id != EMULATOR_CLIENT_ID or (client_secret is not None and client_secret != EMULATOR_CLIENT_SECRET):
        return CodeCheck(None, "invalid_client")
    auth = state.take_code(code)
    if auth is None or auth.expires_at <= now():
        return CodeCheck(None, "invalid_grant")
    if auth.redirect_uri != redirect_uri or auth.client_id != client_id:
        return CodeCheck(None, "invalid_grant")
    if not verify_pkce(auth, code_verifier):
        return CodeCheck(None, "invalid_grant")
    return CodeCheck(auth)


def issue_for(
    state: EmulatorState, auth: AuthCode, *, ttl: timedelta | None, with_refresh: bool = True
) -> dict[str, object]:
    """A standard token response for a redeemed code."""
    access, refresh = state.issue_tokens(
        auth.platform,
        account_id=account_id_for(auth.platform, auth.username),
        username=auth.username,
        scopes=auth.scopes,
        ttl=ttl,
        with_refresh=with_refresh,
    )
    body: dict[str, object] = {"access_token": access, "token_type": "bearer", "scope": " ".join(auth.scopes)}
    if ttl:
        body["expires_in"] = int(ttl.total_seconds())
    if refresh:
        body["refresh_token"] = refresh
    return body


def client_from_basic_auth(request: Request) -> tuple[str, str | None]:
    """(client_id, client_secret) from HTTP Basic auth, else from the form (public clients)."""
    if request.authorization and request.authorization.type == "basic":
        return request.authorization.username or "", request.authorization.password
    return request.form.get("client_id", ""), request.form.get("client_secret")
