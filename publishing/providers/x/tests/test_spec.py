"""What XProvider sends and what the X emulator answers, checked against X's OpenAPI document v2.167.

Requests are read back from the emulator's log (what actually went over the wire);
responses are captured on the provider's own HTTP session. Every call to a path the
spec describes is checked: request body, query and path parameters, response body.
The OAuth endpoints are not in the spec (they live in X's OAuth documentation).

Two known differences between the spec and X's documentation are allowed on purpose:
the spec calls the fields parameter `post.fields` where the documentation and the live
API use `tweet.fields`, and error bodies of type `about:blank` (X's duplicate refusal,
401, 429, 503) are RFC 7807 objects the spec's `Problem` union does not list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from publishing.providers.base import ErrorKind, Media, ProviderError, TokenSet, Variant
from publishing.tests.specs import require_spec
from publishing.tests.test_provider_contract import PNG, connect

SPEC_PATH = Path(settings.BASE_DIR).parent / "shared" / "specs" / "x-api-v2.openapi.json"
SPEC_URI = "urn:x-api-v2-openapi"
PARAMETER_ALIASES = {"tweet.fields": "post.fields"}  # documentation name → the spec's name
OAUTH_PATHS = {"/2/oauth2/token", "/2/oauth2/revoke", "/i/oauth2/authorize", "/i/oauth2/decision"}
GIF = b"GIF89a" + b"\x01\x00\x01\x00\x00\x00\x00;"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        require_spec(SPEC_PATH)
    return json.loads(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def registry(spec):
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _check(registry, validator_class, location: str, instance: Any) -> list[str]:
    """Validate `instance` against the schema at `location` (a JSON pointer into the spec)."""
    validator = validator_class({"$ref": f"{SPEC_URI}#/{location}"}, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def _operation(spec, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The spec path template for a concrete path, and its path parameters; literal segments win."""
    candidates = []
    for template, operations in spec["paths"].items():
        if method.lower() not in operations:
            continue
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        match = re.match(pattern, path)
        if match:
            candidates.append((template.count("{"), template, match.groupdict()))
    if not candidates:
        return None
    _, template, params = min(candidates)
    return template, params


def _parameters(spec, template: str, method: str) -> dict[tuple[str, str], str]:
    """(location, name) → JSON pointer of the parameter's schema."""
    result = {}
    for index, parameter in enumerate(spec["paths"][template][method.lower()].get("parameters", [])):
        if "$ref" in parameter:
            name = parameter["$ref"].split("/")[-1]
            parameter = spec["components"]["parameters"][name]
            location = _pointer("components", "parameters", name, "schema")
        else:
            location = _pointer("paths", template, method.lower(), "parameters", str(index), "schema")
        result[(parameter["in"], parameter["name"])] = location
    return result


def _typed(spec_pointer: str, spec, value: str) -> Any:
    """A query or path value as the spec's schema types it (form style, explode false)."""
    node: Any = spec
    for part in spec_pointer.split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].split("/")[-1]]
    if node.get("type") == "array":
        return value.split(",")
    if node.get("type") == "integer":
        return int(value)
    return value


def _wire_body(entry: dict[str, Any]) -> tuple[str, Any]:
    """The logged body as the spec sees it: multipart file parts become a binary placeholder."""
    content_type = entry["headers"].get("Content-Type", "").split(";")[0]
    body = entry["body"]
    if content_type == "multipart/form-data":
        converted = {}
        for key, value in body.items():
            if isinstance(value, dict) and "size" in value:
                converted[key] = "<binary>"
            elif key == "segment_index":
                converted[key] = int(value)
            else:
                converted[key] = value
        return content_type, converted
    return content_type, body


@pytest.fixture
def session(emulator):
    """A connected provider whose every HTTP response is captured."""
    provider, credentials = connect("x", "spec_checker")
    captured = []
    provider.http.hooks["response"].append(lambda response, *args, **kwargs: captured.append(response))
    provider.sleep = lambda seconds: None
    return provider, credentials, captured


def _exercise(provider, credentials, emulator) -> None:
    """Everything the provider does: profile, posts with and without media, lookup, metrics, delete, errors."""
    provider.fetch_accounts(TokenSet(access_token=credentials.access_token))
    text_post = provider.publish(credentials, Variant(text="Spec check: plain text & a link https://example.com/x"))
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="A single pixel")
    provider.publish(credentials, Variant(text="Spec check: an image", media=(image,)))
    provider.publish(credentials, Variant(text="Spec check: a GIF", media=(Media("image/gif", len(GIF), data=GIF),)))
    provider.lookup(credentials, Variant(text="Spec check: plain text & a link https://example.com/x"))
    provider.fetch_metrics(credentials, [text_post.remote_id, "1234567890123"])
    provider.delete(credentials, text_post.remote_id)
    for kind in ("duplicate", "invalid", "rate_limit", "expired_token", "server_error"):
        emulator.inject_fault("x", kind, operation="publish")
        with pytest.raises(ProviderError):
            provider.publish(credentials, Variant(text=f"Spec check: fault {kind}"))
    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, Variant(text="x" * 281))  # the emulator's own 400
    assert caught.value.kind is ErrorKind.INVALID_CONTENT


def test_request_bodies_and_parameters_follow_the_spec(spec, registry, session, emulator):
    provider, credentials, _ = session
    _exercise(provider, credentials, emulator)
    checked, problems = set(), []

    for entry in emulator.requests(platform="x"):
        path = entry["path"].removeprefix("/x")
        if path in OAUTH_PATHS:
            continue
        found = _operation(spec, entry["method"], path)
        assert found, f"{entry['method']} {path} is not in X's spec"
        template, path_params = found
        operation = spec["paths"][template][entry["method"].lower()]
        parameters = _parameters(spec, template, entry["method"])
        for name, value in path_params.items():
            problems += [
                f"{path} path {name}: {p}"
                for p in _check(registry, OAS30WriteValidator, parameters[("path", name)], value)
            ]
        for raw_name, value in entry["query"].items():
            name = PARAMETER_ALIASES.get(raw_name, raw_name)
            location = parameters.get(("query", name))
            if location is None:
                problems.append(f"{path}: query parameter {raw_name} is not in the spec")
                continue
            typed = _typed(location, spec, value)
            problems += [f"{path} ?{raw_name}: {p}" for p in _check(registry, OAS30WriteValidator, location, typed)]
        if entry["method"] in ("POST", "PUT") and "requestBody" in operation:
            content_type, body = _wire_body(entry)
            content = operation["requestBody"]["content"]
            if content_type not in content:
                problems.append(f"{path}: the spec takes {sorted(content)}, not {content_type}")
                continue
            location = _pointer("paths", template, "post", "requestBody", "content", content_type, "schema")
            problems += [f"{path} body: {p}" for p in _check(registry, OAS30WriteValidator, location, body)]
        checked.add(f"{entry['method']} {template}")

    assert problems == []
    assert checked >= {
        "GET /2/users/me",
        "POST /2/tweets",
        "GET /2/tweets",
        "GET /2/users/{id}/tweets",
        "DELETE /2/tweets/{id}",
        "POST /2/media/upload/initialize",
        "POST /2/media/upload/{id}/append",
        "POST /2/media/upload/{id}/finalize",
        "GET /2/media/upload",
        "POST /2/media/metadata",
    }


def test_the_emulators_answers_follow_the_spec(spec, registry, session, emulator):
    provider, credentials, captured = session
    _exercise(provider, credentials, emulator)
    checked, problems = set(), []

    for response in captured:
        method = response.request.method
        path = urlsplit(response.url).path.removeprefix("/x")
        found = _operation(spec, method, path)
        if found is None:
            continue
        template, _ = found
        responses = spec["paths"][template][method.lower()]["responses"]
        status = str(response.status_code)
        declared = status if status in responses else "default"
        body = response.json()
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        if declared == "default" and body.get("type") == "about:blank":
            # X's plain RFC 7807 answers (duplicate, 401, 429, 503): not in the spec's Problem union.
            missing = {"type", "title", "detail", "status"} - set(body)
            problems += [f"{method} {path} {status}: RFC 7807 member {m} missing" for m in sorted(missing)]
            if response.status_code == 429:  # it also carries the spec's Error shape (code 88)
                problems += _check(registry, OAS30ReadValidator, _pointer("components", "schemas", "Error"), body)
        elif declared == "default":
            assert media_type == "application/problem+json", f"{method} {path} {status}: {media_type}"
            location = _pointer(
                "paths", template, method.lower(), "responses", "default", "content", media_type, "schema"
            )
            problems += [f"{method} {path} {status}: {p}" for p in _check(registry, OAS30ReadValidator, location, body)]
        else:
            location = _pointer(
                "paths", template, method.lower(), "responses", declared, "content", "application/json", "schema"
            )
            problems += [f"{method} {path} {status}: {p}" for p in _check(registry, OAS30ReadValidator, location, body)]
        checked.add(f"{method} {template} {declared}")

    assert problems == []
    assert checked >= {
        "GET /2/users/me 200",
        "POST /2/tweets 201",
        "POST /2/tweets default",
        "GET /2/tweets 200",
        "GET /2/users/{id}/tweets 200",
        "DELETE /2/tweets/{id} 200",
        "POST /2/media/upload/initialize 200",
        "POST /2/media/upload/{id}/append 200",
        "POST /2/media/upload/{id}/finalize 200",
        "GET /2/media/upload 200",
        "POST /2/media/metadata 200",
    }


def test_the_spec_check_catches_an_unknown_field(spec, registry):
    """The checker itself: CreatePostsRequest is additionalProperties: false."""
    location = _pointer("components", "schemas", "CreatePostsRequest")

    assert _check(registry, OAS30WriteValidator, location, {"text": "ok"}) == []
    assert _check(registry, OAS30WriteValidator, location, {"text": "ok", "link": "https://x.y"}) != []
    assert _check(registry, OAS30WriteValidator, location, {"text": "ok", "media": {"media_ids": []}}) != []
