"""Check what our provider sends and what the emulator answers against Mastodon's OpenAPI 3.1 spec.

The spec (../shared/specs/mastodon.openapi.json, abraham/mastodon-openapi, Mastodon 4.7) is JSON Schema
2020-12 throughout, so jsonschema validates against it directly, resolving `$ref` in the whole document.
"""

from __future__ import annotations

import json
import os
import time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from publishing.platforms import provider_for
from publishing.providers.base import Credentials, Media, Variant, code_challenge_s256, new_code_verifier
from publishing.providers.mastodon.provider import forget_instance_limits
from publishing.tests.test_provider_contract import PNG, REDIRECT_URI, consent

SPEC_PATH = Path(__file__).resolve().parents[5] / "shared" / "specs" / "mastodon.openapi.json"
SPEC_URI = "urn:spec:mastodon"
INSTANCE = "mastodon.example"

pytestmark = pytest.mark.skipif(
    not SPEC_PATH.exists() and not os.environ.get("CI"), reason=f"the Mastodon spec is not at {SPEC_PATH}"
)

# The emulator's operation names (its method names, in the request log) → the spec's (path, method).
OPERATIONS = {
    "register_app": ("/api/v1/apps", "post"),
    "authorize": ("/oauth/authorize", "get"),
    "token": ("/oauth/token", "post"),
    "revoke": ("/oauth/revoke", "post"),
    "instance_info": ("/api/v2/instance", "get"),
    "verify_credentials": ("/api/v1/accounts/verify_credentials", "get"),
    "account_statuses": ("/api/v1/accounts/{id}/statuses", "get"),
    "create_status": ("/api/v1/statuses", "post"),
    "statuses": ("/api/v1/statuses", "get"),
    "show_status": ("/api/v1/statuses/{id}", "get"),
    "delete_status": ("/api/v1/statuses/{id}", "delete"),
    "upload_media": ("/api/v2/media", "post"),
    "show_media": ("/api/v1/media/{id}", "get"),
}


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@cache
def registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012))


def pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def problems(instance: Any, *parts: str) -> list[str]:
    """Where `instance` breaks the schema at `parts` in the spec (its `$ref`s resolved in the whole document)."""
    validator = Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer(*parts)}"},
        registry=registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def schema_problems(instance: Any, name: str) -> list[str]:
    return problems(instance, "components", "schemas", name)


STATUS_SHAPES = ("TextStatus", "MediaStatus", "PollStatus")


def request_body_problems(operation: str, body: Any) -> list[str]:
    """Where a request body breaks its operation's schema.

    The spec makes a status body oneOf TextStatus | MediaStatus | PollStatus, but a status with text *and*
    media satisfies both TextStatus and MediaStatus (they differ only in what is required), which Mastodon
    accepts. So a status body must match at least one of them, not exactly one.
    """
    if operation == "create_status":
        by_shape = {name: schema_problems(body, name) for name in STATUS_SHAPES}
        if any(not found for found in by_shape.values()):
            return []
        return [f"{name}: {p}" for name, found in by_shape.items() for p in found]
    path, method = OPERATIONS[operation]
    content = spec()["paths"][path][method]["requestBody"]["content"]
    media_type = next(iter(content))
    return problems(body, "paths", path, method, "requestBody", "content", media_type, "schema")


def response_problems(operation: str, response: requests.Response) -> list[str]:
    """The JSON body against the spec's schema for this status code, and the X-RateLimit-* headers."""
    path, method = OPERATIONS[operation]
    documented = spec()["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, f"{operation} answered an undocumented {response.status_code}"
    found: list[str] = []
    content = documented[str(response.status_code)].get("content", {})
    if "application/json" in content:
        found += problems(
            response.json(),
            "paths",
            path,
            method,
            "responses",
            str(response.status_code),
            "content",
            "application/json",
            "schema",
        )
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        if header in response.headers:
            value = response.headers[header]
            value = int(value) if header != "X-RateLimit-Reset" else value
            found += [f"{header}: {p}" for p in problems(value, "components", "headers", header, "schema")]
    return found


@pytest.fixture(autouse=True)
def _fresh_limits():
    forget_instance_limits()


# --------------------------------------------------------------------------- what the provider sends


def test_every_request_body_the_provider_sends_matches_the_spec(emulator):
    provider = provider_for("mastodon", server=INSTANCE)
    client_id, secret = provider.register_app(
        redirect_uri=REDIRECT_URI, app_name="LetsGrow", website="https://letsgrow.app"
    )
    provider = provider_for("mastodon", server=INSTANCE, client_id=client_id, client_secret=secret)
    verifier = new_code_verifier()
    url = provider.authorization_url(state="s", redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256(verifier))
    tokens = provider.exchange_code(
        code=consent(url, username="speccy")["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    profile = provider.fetch_accounts(tokens)[0]
    credentials = Credentials(access_token=tokens.access_token, account_id=profile.account_id, config=profile.config)
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="A dot")
    video = Media(content_type="video/mp4", size=64, data=b"v" * 64, alt_text="A clip")
    ids = []
    for variant in (
        Variant(text="Text only #spec"),
        Variant(text="With image", media=(image,)),
        Variant(text="", media=(video,)),
    ):
        handle = provider.prepare(credentials, variant)
        assert provider.validate(variant).is_valid
        ids.append(provider.publish(credentials, variant, handle=handle).remote_id)
        assert provider.lookup(credentials, variant, handle=handle) is not None
    provider.fetch_metrics(credentials, ids)
    provider.delete(credentials, ids[0])
    provider.revoke(credentials)

    log = emulator.requests(platform="mastodon")
    seen = {entry["operation"] for entry in log}
    assert {"register_app", "token", "create_status", "upload_media", "revoke", "statuses"} <= seen
    found: list[str] = []
    for entry in log:
        if entry["operation"] == "authorize_decision":  # the person's consent form, not an API call
            continue
        path, method = OPERATIONS[entry["operation"]]
        operation = spec()["paths"][path][method]
        if "requestBody" in operation and entry["body"] is not None:
            body = entry["body"]
            if entry["operation"] == "upload_media":  # the log keeps a file's metadata, the spec a binary string
                body = {key: "<binary>" if isinstance(value, dict) else value for key, value in body.items()}
            found += [f"{entry['operation']} {p}" for p in request_body_problems(entry["operation"], body)]
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        found += [
            f"{entry['operation']}: undocumented query parameter {name}"
            for name in entry["query"]
            if name.removesuffix("[]") not in declared
        ]
        if entry["operation"] == "create_status":
            assert entry["headers"].get("Idempotency-Key", "").startswith("lg-")
    assert found == []


def test_status_bodies_are_checked_against_each_documented_shape():
    path = ("paths", "/api/v1/statuses", "post", "requestBody", "content", "application/json", "schema")
    text_only = {"status": "Hello", "visibility": "public"}
    with_media = {"status": "Hello", "visibility": "public", "media_ids": ["1"]}

    # Exactly one shape: the spec's oneOf holds.
    assert problems(text_only, *path) == []
    assert problems({"visibility": "public", "media_ids": ["1"]}, *path) == []
    # Text and media match two shapes, so the literal oneOf fails although Mastodon documents and accepts it.
    assert problems(with_media, *path) != []
    assert request_body_problems("create_status", with_media) == []
    # A real mistake still fails every shape.
    assert request_body_problems("create_status", {"status": "x", "visibility": "everyone"}) != []
    assert request_body_problems("create_status", {"visibility": "public"}) != []


def test_the_authorization_url_carries_the_documented_parameters(emulator):
    provider = provider_for("mastodon", server=INSTANCE, client_id="cid", client_secret="cs")

    url = provider.authorization_url(state="s", redirect_uri=REDIRECT_URI, code_challenge="c")

    parameters = {p["name"]: p for p in spec()["paths"]["/oauth/authorize"]["get"]["parameters"]}
    query = dict(parse_qsl(urlsplit(url).query))
    assert set(query) <= set(parameters)
    assert {name for name, p in parameters.items() if p.get("required")} <= set(query)
    assert query["code_challenge_method"] == "S256"


# --------------------------------------------------------------------------- what the emulator answers


class Raw:
    """Plain HTTP against one emulated instance, to see the emulator's answers unfiltered."""

    def __init__(self, emulator) -> None:
        self.base = f"{emulator.base_url}/mastodon/{INSTANCE}"
        self.token = ""

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return requests.request(method, self.base + path, headers=headers, timeout=5, **kwargs)


def test_the_emulators_answers_match_the_spec(emulator):
    raw = Raw(emulator)
    found: list[str] = []

    def check(operation: str, response: requests.Response, status: int) -> dict[str, Any] | list[Any]:
        assert response.status_code == status, (operation, response.status_code, response.text[:300])
        found.extend(f"{operation} {response.status_code} {p}" for p in response_problems(operation, response))
        return response.json() if response.content else {}

    app = check(
        "register_app",
        raw.call(
            "POST",
            "/api/v1/apps",
            json={"client_name": "Spec", "redirect_uris": [REDIRECT_URI], "scopes": "read write"},
        ),
        200,
    )
    check("instance_info", raw.call("GET", "/api/v2/instance"), 200)
    verifier = new_code_verifier()
    authorize = (
        raw.base
        + "/oauth/authorize?"
        + "&".join(
            f"{k}={requests.utils.quote(v)}"
            for k, v in {
                "client_id": app["client_id"],
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "scope": "read write",
                "state": "s",
                "code_challenge": code_challenge_s256(verifier),
                "code_challenge_method": "S256",
            }.items()
        )
    )
    code = consent(authorize, username="raw_user")["code"]
    token_form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "code_verifier": verifier,
    }
    check("token", raw.call("POST", "/oauth/token", json={**token_form, "client_secret": "wrong"}), 401)
    token = check("token", raw.call("POST", "/oauth/token", json=token_form), 200)
    check("token", raw.call("POST", "/oauth/token", json=token_form), 400)  # a code works once

    check("verify_credentials", raw.call("GET", "/api/v1/accounts/verify_credentials"), 401)
    raw.token = token["access_token"]
    account = check("verify_credentials", raw.call("GET", "/api/v1/accounts/verify_credentials"), 200)

    image = check(
        "upload_media",
        raw.call("POST", "/api/v2/media", files={"file": ("a.png", PNG, "image/png")}, data={"description": "dot"}),
        200,
    )
    video = check(
        "upload_media", raw.call("POST", "/api/v2/media", files={"file": ("a.mp4", b"v" * 10, "video/mp4")}), 202
    )
    processing = raw.call("GET", f"/api/v1/media/{video['id']}")
    assert processing.status_code == 206
    found.extend(f"show_media 206 {p}" for p in schema_problems(processing.json(), "MediaAttachment"))
    time.sleep(0.4)
    check("show_media", raw.call("GET", f"/api/v1/media/{video['id']}"), 200)

    body = {"status": "Spec check https://example.com #spec", "media_ids": [image["id"]], "visibility": "public"}
    status = check(
        "create_status", raw.call("POST", "/api/v1/statuses", json=body, headers={"Idempotency-Key": "k"}), 200
    )
    check("create_status", raw.call("POST", "/api/v1/statuses", json={"status": "z" * 501}), 422)
    check("show_status", raw.call("GET", f"/api/v1/statuses/{status['id']}"), 200)
    check("show_status", raw.call("GET", "/api/v1/statuses/1"), 404)
    check("statuses", raw.call("GET", "/api/v1/statuses", params=[("id[]", status["id"]), ("id[]", "1")]), 200)
    check("account_statuses", raw.call("GET", f"/api/v1/accounts/{account['id']}/statuses", params={"limit": 5}), 200)

    emulator.inject_fault("mastodon", "rate_limit", operation="publish", retry_after=60)
    check("create_status", raw.call("POST", "/api/v1/statuses", json={"status": "later"}), 429)
    emulator.inject_fault("mastodon", "server_error", operation="publish")
    check("create_status", raw.call("POST", "/api/v1/statuses", json={"status": "later"}), 503)
    emulator.inject_fault("mastodon", "expired_token", operation="publish")
    check("create_status", raw.call("POST", "/api/v1/statuses", json={"status": "later"}), 401)

    deleted = check("delete_status", raw.call("DELETE", f"/api/v1/statuses/{status['id']}"), 200)
    assert deleted["text"] == body["status"]
    check(
        "revoke",
        raw.call(
            "POST",
            "/oauth/revoke",
            json={"client_id": app["client_id"], "client_secret": app["client_secret"], "token": raw.token},
        ),
        200,
    )
    check("verify_credentials", raw.call("GET", "/api/v1/accounts/verify_credentials"), 401)

    assert found == []
