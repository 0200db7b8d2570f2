"""What the provider sends and what the emulator answers, checked against the official lexicons.

The lexicons are ../shared/specs/bluesky-lexicons/*.json, copied unchanged from
bluesky-social/atproto. A small walker below reads them directly (lexicon types are not
JSON Schema: `maxLength` of a string counts UTF-8 bytes, `maxGraphemes` grapheme clusters,
unions pick their schema by `$type`, blobs have their own shape). Refs into lexicons that
were not copied (app.bsky.actor.defs, com.atproto.repo.defs, …) are recorded as unchecked;
the test asserts that everything we build ourselves (post, facets, images embed) was checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import regex
import requests

from publishing.platforms import provider_for
from publishing.providers.base import Credentials, ErrorKind, Media, ProviderError, Variant
from publishing.providers.bluesky.provider import BlueskyProvider
from publishing.tests.specs import require_spec

LEXICON_DIR = Path(__file__).resolve().parents[4].parent / "shared" / "specs" / "bluesky-lexicons"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"

# Errors any XRPC method may answer (xrpc-server and the PDS's auth), beyond each lexicon's own list.
GENERIC_ERRORS = {
    "InvalidRequest",
    "ExpiredToken",
    "InvalidToken",
    "AuthMissing",
    "AuthenticationRequired",
    "RateLimitExceeded",
    "InternalServerError",
    "UpstreamFailure",
    "NotEnoughResources",
    "PayloadTooLarge",
    "BlobTooLarge",
    "BlobNotFound",
    "InvalidMimeType",
}

_HANDLE = r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_DID = r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]"
_NSID = r"[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+"
_RKEY = r"[A-Za-z0-9._~:-]{1,512}"
FORMATS = {
    "did": rf"^{_DID}$",
    "handle": rf"^{_HANDLE}$",
    "at-identifier": rf"^({_DID}|{_HANDLE})$",
    "nsid": rf"^{_NSID}$",
    "record-key": rf"^(?!\.{{1,2}}$){_RKEY}$",
    "at-uri": rf"^at://({_DID}|{_HANDLE})(/{_NSID}(/{_RKEY})?)?$",
    "uri": r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$",
    "cid": r"^[a-zA-Z0-9+=]{8,256}$",
    "datetime": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
    "language": r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$",
    "tid": r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$",
}


class Lexicons:
    """The lexicon documents of a directory, and a validator that walks their definitions."""

    def __init__(self, directory: Path) -> None:
        self.docs = {}
        for path in sorted(directory.glob("*.json")):
            doc = json.loads(path.read_text())
            self.docs[doc["id"]] = doc
        self.unchecked: set[str] = set()

    def definition(self, ref: str, context: str = "") -> tuple[dict[str, Any], str] | None:
        """The definition `ref` names ("#x", "nsid#x" or "nsid"), and the lexicon it lives in."""
        if ref.startswith("#"):
            lexicon, name = context, ref[1:]
        elif "#" in ref:
            lexicon, name = ref.split("#", 1)
        else:
            lexicon, name = ref, "main"
        doc = self.docs.get(lexicon)
        if doc is None or name not in doc["defs"]:
            self.unchecked.add(f"{lexicon}#{name}")
            return None
        return doc["defs"][name], lexicon

    def main(self, nsid: str) -> dict[str, Any] | None:
        doc = self.docs.get(nsid)
        return doc["defs"]["main"] if doc else None

    def check(self, value: Any, definition: dict[str, Any], context: str, path: str = "$") -> list[str]:
        """Every way `value` breaks `definition` (empty when it fits)."""
        kind = definition["type"]
        errors: list[str] = []
        if kind == "record":
            return self.check(value, definition["record"], context, path)
        if kind in ("object", "params"):
            if not isinstance(value, dict):
                return [f"{path} must be an object"]
            for name in definition.get("required", []):
                if name not in value:
                    errors.append(f"{path} must have the property {name!r}")
            for name, prop in definition.get("properties", {}).items():
                if name in value and not (value[name] is None and name in definition.get("nullable", [])):
                    errors.extend(self.check(value[name], prop, context, f"{path}.{name}"))
            return errors
        if kind == "ref":
            found = self.definition(definition["ref"], context)
            return self.check(value, found[0], found[1], path) if found else []
        if kind == "union":
            if not isinstance(value, dict) or not isinstance(value.get("$type"), str):
                return [f"{path} must be an object with a $type"]
            refs = {self._absolute(ref, context): ref for ref in definition["refs"]}
            wanted = value["$type"]
            if wanted not in refs:
                # Open unions allow other types; we never mean to send one, so it is an error here.
                return [f"{path}.$type {wanted!r} is not one of {sorted(refs)}"]
            found = self.definition(refs[wanted], context)
            return self.check(value, found[0], found[1], path) if found else []
        if kind == "string":
            return self._check_string(value, definition, path)
        if kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                return [f"{path} must be an integer"]
            if "minimum" in definition and value < definition["minimum"]:
                errors.append(f"{path} must be ≥ {definition['minimum']}")
            if "maximum" in definition and value > definition["maximum"]:
                errors.append(f"{path} must be ≤ {definition['maximum']}")
            if "const" in definition and value != definition["const"]:
                errors.append(f"{path} must be {definition['const']}")
            return errors
        if kind == "boolean":
            if not isinstance(value, bool):
                return [f"{path} must be a boolean"]
            if "const" in definition and value != definition["const"]:
                return [f"{path} must be {definition['const']}"]
            return []
        if kind == "array":
            if not isinstance(value, list):
                return [f"{path} must be an array"]
            if "maxLength" in definition and len(value) > definition["maxLength"]:
                errors.append(f"{path} must not have more than {definition['maxLength']} elements")
            if "minLength" in definition and len(value) < definition["minLength"]:
                errors.append(f"{path} must have at least {definition['minLength']} elements")
            for number, item in enumerate(value):
                errors.extend(self.check(item, definition["items"], context, f"{path}[{number}]"))
            return errors
        if kind == "blob":
            return self._check_blob(value, definition, path)
        if kind == "unknown":
            return [] if isinstance(value, dict) else [f"{path} must be an object"]
        raise AssertionError(f"lexicon type {kind!r} at {path} is not handled by this walker")

    @staticmethod
    def _absolute(ref: str, context: str) -> str:
        """The $type a value of `ref` carries: "nsid" for a main definition, "nsid#name" otherwise."""
        if ref.startswith("#"):
            return f"{context}{ref}"
        return ref.removesuffix("#main")

    @staticmethod
    def _check_string(value: Any, definition: dict[str, Any], path: str) -> list[str]:
        if not isinstance(value, str):
            return [f"{path} must be a string"]
        errors = []
        size, graphemes = len(value.encode("utf-8")), len(regex.findall(r"\X", value))
        if "maxLength" in definition and size > definition["maxLength"]:  # UTF-8 bytes
            errors.append(f"{path} is {size} bytes, more than {definition['maxLength']}")
        if "minLength" in definition and size < definition["minLength"]:
            errors.append(f"{path} is {size} bytes, fewer than {definition['minLength']}")
        if "maxGraphemes" in definition and graphemes > definition["maxGraphemes"]:
            errors.append(f"{path} is {graphemes} graphemes, more than {definition['maxGraphemes']}")
        if "minGraphemes" in definition and graphemes < definition["minGraphemes"]:
            errors.append(f"{path} is {graphemes} graphemes, fewer than {definition['minGraphemes']}")
        if "enum" in definition and value not in definition["enum"]:
            errors.append(f"{path} must be one of {definition['enum']}")
        if "const" in definition and value != definition["const"]:
            errors.append(f"{path} must be {definition['const']!r}")
        fmt = definition.get("format")
        if fmt and not regex.match(FORMATS[fmt], value):
            errors.append(f"{path} {value[:80]!r} is not a valid {fmt}")
        return errors

    @staticmethod
    def _check_blob(value: Any, definition: dict[str, Any], path: str) -> list[str]:
        if not (
            isinstance(value, dict)
            and value.get("$type") == "blob"
            and isinstance(value.get("ref"), dict)
            and isinstance(value["ref"].get("$link"), str)
            and isinstance(value.get("mimeType"), str)
            and isinstance(value.get("size"), int)
        ):
            return [f"{path} must be a blob {{$type: blob, ref: {{$link}}, mimeType, size}}"]
        errors = []
        accept = definition.get("accept")
        if accept and not any(fnmatch(value["mimeType"], pattern) for pattern in accept):
            errors.append(f"{path}.mimeType {value['mimeType']!r} is not one of {accept}")
        if "maxSize" in definition and value["size"] > definition["maxSize"]:
            errors.append(f"{path}.size {value['size']} is over {definition['maxSize']}")
        return errors

    def check_params(self, nsid: str, query: dict[str, list[str]]) -> list[str]:
        """Check a query string against a query's `parameters` (values arrive as strings)."""
        params = self.main(nsid)["parameters"]
        typed: dict[str, Any] = {}
        for name, values in query.items():
            prop = params["properties"].get(name)
            if prop is None:
                return [f"{nsid}: unknown parameter {name!r}"]
            if prop["type"] == "array":
                typed[name] = values
            elif prop["type"] == "integer":
                typed[name] = int(values[0])
            elif prop["type"] == "boolean":
                typed[name] = values[0] == "true"
            else:
                typed[name] = values[0]
        return self.check(typed, params, nsid, f"{nsid}?")


@pytest.fixture(scope="module")
def lexicons() -> Lexicons:
    if not LEXICON_DIR.is_dir():
        require_spec(LEXICON_DIR)
    return Lexicons(LEXICON_DIR)


def nsid_of(path: str) -> str:
    return path.rsplit("/xrpc/", 1)[1]


# --------------------------------------------------------------------------- the walker itself


def _post(**overrides: Any) -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00.000Z", **overrides}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (_post(text="a" * 301), "301 graphemes"),
        (_post(text=FAMILY * 121), "3025 bytes"),
        ({"$type": "app.bsky.feed.post", "text": "hi"}, "'createdAt'"),
        (_post(createdAt="yesterday"), "datetime"),
        (_post(facets=[{"features": []}]), "'index'"),
        (_post(facets=[{"index": {"byteStart": 0, "byteEnd": 2}, "features": [{"$type": "x#y"}]}]), "x#y"),
        (
            _post(
                facets=[
                    {
                        "index": {"byteStart": 0, "byteEnd": 2},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "bob"}],
                    }
                ]
            ),
            "valid did",
        ),
        (_post(embed={"$type": "app.bsky.embed.images", "images": [{"alt": "a"}] * 5}), "more than 4"),
        (
            _post(
                embed={
                    "$type": "app.bsky.embed.images",
                    "images": [
                        {
                            "alt": "a",
                            "image": {"$type": "blob", "ref": {"$link": "b"}, "mimeType": "text/plain", "size": 3},
                        }
                    ],
                }
            ),
            "text/plain",
        ),
        (
            _post(
                embed={
                    "$type": "app.bsky.embed.images",
                    "images": [
                        {
                            "alt": "a",
                            "image": {
                                "$type": "blob",
                                "ref": {"$link": "b"},
                                "mimeType": "image/png",
                                "size": 2_000_001,
                            },
                        }
                    ],
                }
            ),
            "over 2000000",
        ),
        (_post(langs=["en", "de", "fr", "es"]), "more than 3"),
    ],
)
def test_the_walker_catches_what_the_lexicon_forbids(lexicons, record, problem):
    errors = lexicons.check(record, lexicons.main("app.bsky.feed.post"), "app.bsky.feed.post")

    assert any(problem in error for error in errors), errors


def test_the_walker_accepts_a_full_valid_post(lexicons):
    text = f"{FAMILY} https://example.com #tag"
    record = _post(
        text=text,
        langs=["en"],
        facets=[
            {
                "index": {"byteStart": 26, "byteEnd": 45},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com"}],
            }
        ],
        embed={
            "$type": "app.bsky.embed.images",
            "images": [
                {
                    "alt": "",
                    "image": {"$type": "blob", "ref": {"$link": "bafkrei"}, "mimeType": "image/png", "size": 10},
                }
            ],
        },
    )

    assert lexicons.check(record, lexicons.main("app.bsky.feed.post"), "app.bsky.feed.post") == []


# --------------------------------------------------------------------------- provider and emulator


class Exchange:
    """One HTTP exchange the provider made, as sent and as answered."""

    def __init__(self, response: requests.Response) -> None:
        url = urlsplit(response.request.url or "")
        self.path = url.path
        self.nsid = nsid_of(url.path) if "/xrpc/" in url.path else ""
        self.query = parse_qs(url.query)
        self.method = response.request.method
        self.status = response.status_code
        try:
            self.body = response.json()
        except ValueError:
            self.body = None


def recording(provider: BlueskyProvider) -> list[Exchange]:
    """Record every response the provider receives, for checking after the flow."""
    seen: list[Exchange] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(Exchange(response))

    provider.http.hooks["response"].append(hook)
    return seen


def run_a_full_flow(emulator) -> tuple[list[Exchange], Credentials]:
    """Log in, publish with facets and an image, look up, refresh, read metrics, meet errors, delete, revoke."""
    provider = provider_for("bluesky")
    assert isinstance(provider, BlueskyProvider)
    seen = recording(provider)
    profile = provider.login(identifier="lexi.bsky.social", password="abcd-efgh-ijkl-mnop")
    provider.login(identifier="bob.bsky.social", password="abcd-efgh-ijkl-mnop")
    assert profile.tokens is not None
    credentials = Credentials(
        access_token=profile.tokens.access_token,
        refresh_token=profile.tokens.refresh_token,
        account_id=profile.account_id,
        config=profile.config,
    )
    text = f"Déjà {FAMILY} https://example.com/ü?x=1 with @bob.bsky.social and @nobody.example.com #letsgrow"
    rkey = provider.prepare(credentials, Variant(text=text))
    first = provider.publish(credentials, Variant(text=text), handle=rkey)
    image = Media(content_type="image/png", size=len(PNG), data=PNG, alt_text="A dot", width=1, height=1)
    second = provider.publish(
        credentials,
        Variant(text="With an image", media=(image,)),
        handle=provider.prepare(credentials, Variant(text="")),
    )
    assert provider.lookup(credentials, Variant(text=text), handle=rkey) == first
    assert (
        provider.lookup(credentials, Variant(text=text), handle=provider.prepare(credentials, Variant(text=""))) is None
    )
    tokens = provider.refresh_credentials(credentials)
    credentials = Credentials(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        account_id=credentials.account_id,
        config=credentials.config,
    )
    assert len(provider.fetch_metrics(credentials, [first.remote_id, second.remote_id])) == 2
    for fault in ("expired_token", "rate_limit", "invalid", "server_error"):
        emulator.inject_fault("bluesky", fault, operation="publish")
        with pytest.raises(ProviderError):
            provider.publish(
                credentials, Variant(text="refused"), handle=provider.prepare(credentials, Variant(text=""))
            )
    emulator.inject_fault("bluesky", "refresh_fails", operation="refresh")
    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(credentials)
    assert caught.value.kind is ErrorKind.AUTH_EXPIRED
    provider.delete(credentials, second.remote_id)
    provider.revoke(credentials)
    return seen, credentials


def logged_requests(emulator) -> Iterator[dict[str, Any]]:
    yield from (r for r in emulator.requests(platform="bluesky") if "/xrpc/" in r["path"])


def test_every_request_body_the_provider_sent_fits_its_lexicon(emulator, lexicons):
    run_a_full_flow(emulator)
    checked: set[str] = set()

    for logged in logged_requests(emulator):
        nsid = nsid_of(logged["path"])
        definition = lexicons.main(nsid)
        if logged["method"] != "POST" or definition is None:
            continue
        schema = definition.get("input", {}).get("schema")
        if schema is not None:
            assert lexicons.check(logged["body"], schema, nsid, nsid) == [], logged
            checked.add(nsid)
        if nsid == "com.atproto.repo.createRecord":
            body = logged["body"]
            record_type = lexicons.main(body["collection"])
            assert record_type is not None and record_type["type"] == "record"
            assert lexicons.check(body["record"], record_type, body["collection"], "record") == [], body["record"]
            assert body["record"]["$type"] == body["collection"]
            assert record_type["key"] == "tid" and regex.match(FORMATS["tid"], body["rkey"])
        if nsid == "com.atproto.repo.uploadBlob":
            assert definition["input"]["encoding"] == "*/*"
            assert logged["body"]["content_type"] == "image/png"
            checked.add(nsid)

    assert checked >= {
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
        "com.atproto.repo.deleteRecord",
        "com.atproto.repo.uploadBlob",
    }
    # Everything the provider builds itself was checked, not skipped for a missing lexicon.
    built = {"app.bsky.richtext.facet", "app.bsky.embed.images", "app.bsky.feed.post"}
    assert not {ref.split("#")[0] for ref in lexicons.unchecked} & built, lexicons.unchecked


def test_the_facets_sent_cover_every_link_mention_and_tag(emulator, lexicons):
    run_a_full_flow(emulator)

    [first, *_] = [r["body"]["record"] for r in emulator.requests(platform="bluesky", operation="create_record")]
    encoded = first["text"].encode("utf-8")
    covered = [encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in first["facets"]]

    # The unresolvable @nobody.example.com stays plain text.
    assert covered == ["https://example.com/ü?x=1", "@bob.bsky.social", "#letsgrow"]


def test_every_emulator_answer_fits_its_lexicon(emulator, lexicons):
    seen, _credentials = run_a_full_flow(emulator)
    checked: set[str] = set()

    for exchange in seen:
        definition = lexicons.main(exchange.nsid)
        if definition is None:  # getProfile, listRecords, deleteSession: not among the copied lexicons
            continue
        if definition["type"] == "query":
            assert lexicons.check_params(exchange.nsid, exchange.query) == [], exchange.query
        if exchange.status >= 400:
            body = exchange.body
            assert isinstance(body, dict) and isinstance(body.get("error"), str), body
            assert isinstance(body.get("message"), str), body
            declared = {error["name"] for error in definition.get("errors", [])}
            assert body["error"] in declared | GENERIC_ERRORS, (exchange.nsid, body)
            continue
        schema = definition.get("output", {}).get("schema")
        if schema is not None:
            assert lexicons.check(exchange.body, schema, exchange.nsid, exchange.nsid) == [], exchange.body
            checked.add(exchange.nsid)

    assert checked >= {
        "com.atproto.server.createSession",
        "com.atproto.server.refreshSession",
        "com.atproto.identity.resolveHandle",
        "com.atproto.repo.uploadBlob",
        "com.atproto.repo.createRecord",
        "com.atproto.repo.getRecord",
        "com.atproto.repo.deleteRecord",
        "app.bsky.feed.getPosts",
    }


def test_the_postview_embed_fits_the_images_view(emulator, lexicons):
    seen, _credentials = run_a_full_flow(emulator)

    [metrics] = [e for e in seen if e.nsid == "app.bsky.feed.getPosts"]
    views = [post.get("embed") for post in metrics.body["posts"] if post.get("embed")]

    assert [view["$type"] for view in views] == ["app.bsky.embed.images#view"]
    view_def, context = lexicons.definition("app.bsky.embed.images#view")
    assert lexicons.check(views[0], view_def, context) == []
