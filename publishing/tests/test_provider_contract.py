"""The contract every registered provider keeps, exercised over real HTTP against the emulator.

Connect (OAuth with state and PKCE, per-instance registration, or app password),
validate, publish text, publish with an image, fetch metrics, each error class,
token refresh, and lookup after a lost response.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from publishing.platforms import provider_for
from publishing.providers import REGISTRY
from publishing.providers.base import (
    Credentials,
    ErrorKind,
    Media,
    ProviderError,
    Variant,
    code_challenge_s256,
    new_code_verifier,
    new_state,
)

REDIRECT_URI = "http://testserver/connections/callback/"
# A 1x1 PNG: the smallest real image.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class _ConsentForm(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action", "")
        if tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value") or ""


def consent(authorization_url: str, *, username: str, grant: bool = True) -> dict[str, str]:
    """Open the emulated consent page as a person would, answer it, and read the redirect's query."""
    page = requests.get(authorization_url, timeout=5)
    assert page.status_code == 200, page.text[:300]
    form = _ConsentForm()
    form.feed(page.text)
    action = form.action if form.action.startswith("http") else _origin(authorization_url) + form.action
    answer = requests.post(
        action,
        data={**form.fields, "username": username, "decision": "grant" if grant else "deny"},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code in (302, 303), answer.text[:300]
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def connect(slug: str, username: str = "contract_user") -> tuple[object, Credentials]:
    """Connect one account of `slug` against the emulator; return (provider, credentials)."""
    server = {"mastodon": "mastodon.example", "bluesky": ""}.get(slug, "")
    provider = provider_for(slug, server=server)
    if provider.registers_per_server:
        client_id, client_secret = provider.register_app(
            redirect_uri=REDIRECT_URI, app_name="LetsGrow", website="https://letsgrow.app"
        )
        provider = provider_for(slug, server=server, client_id=client_id, client_secret=client_secret)
    if provider.auth_kind == "app_password":
        profile = provider.login(identifier=f"{username}.bsky.social", password="abcd-efgh-ijkl-mnop")
    else:
        state, verifier = new_state(), new_code_verifier()
        challenge = code_challenge_s256(verifier) if provider.supports_pkce else ""
        url = provider.authorization_url(state=state, redirect_uri=REDIRECT_URI, code_challenge=challenge)
        answer = consent(url, username=username)
        assert answer["state"] == state
        tokens = provider.exchange_code(
            code=answer["code"], redirect_uri=REDIRECT_URI, code_verifier=verifier if provider.supports_pkce else ""
        )
        profiles = provider.fetch_accounts(tokens)
        assert profiles, "the platform returned no account to publish to"
        profile = profiles[0]
        if profile.tokens is None:
            profile = type(profile)(**{**profile.__dict__, "tokens": tokens})
    tokens = profile.tokens
    assert tokens is not None and tokens.access_token
    credentials = Credentials(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        account_id=profile.account_id,
        config=profile.config,
    )
    return provider, credentials


SLUGS = sorted(REGISTRY)
pytestmark = pytest.mark.django_db


def _text(slug: str, n: int = 0) -> str:
    return f"Contract test post {n} for {slug} #letsgrow"


def _image(emulator) -> Media:
    return Media(
        content_type="image/png", size=len(PNG), data=PNG, url=f"{emulator.base_url}/_media/pixel.png", alt_text="A dot"
    )


def _post(provider, emulator, slug: str, n: int) -> Variant:
    """A post this platform accepts: text, plus an image where the platform needs media."""
    media = (_image(emulator),) if provider.requires_media else ()
    return Variant(text=_text(slug, n), media=media)


@pytest.mark.parametrize("slug", SLUGS)
def test_connect_validate_and_publish_text(slug, emulator):
    provider, credentials = connect(slug)
    variant = _post(provider, emulator, slug, 0)

    assert provider.validate(variant).is_valid
    too_long = provider.validate(Variant(text="x" * (provider.max_text_length + 1), media=variant.media))
    assert not too_long.is_valid
    assert too_long.length > too_long.max_length == provider.max_text_length

    handle = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=handle)

    assert result.remote_id
    assert result.url.startswith("http")
    published = [r for r in emulator.requests(platform=slug) if r["method"] == "POST" and r["status"] < 300]
    assert published, "the emulator saw no successful POST"


@pytest.mark.parametrize("slug", SLUGS)
def test_a_denied_consent_comes_back_as_access_denied(slug, emulator):
    provider = provider_for(slug, server="mastodon.example" if slug == "mastodon" else "")
    if provider.auth_kind != "oauth2":
        pytest.skip("no consent page: app password")
    if provider.registers_per_server:
        cid, secret = provider.register_app(redirect_uri=REDIRECT_URI, app_name="LetsGrow", website="https://x.y")
        provider = provider_for(slug, server="mastodon.example", client_id=cid, client_secret=secret)
    url = provider.authorization_url(
        state="s1", redirect_uri=REDIRECT_URI, code_challenge=code_challenge_s256("v" * 50)
    )

    answer = consent(url, username="someone", grant=False)

    assert answer["error"] == "access_denied"
    assert answer["state"] == "s1"
    assert "code" not in answer


@pytest.mark.parametrize("slug", SLUGS)
def test_publish_with_an_image(slug, emulator):
    provider, credentials = connect(slug)
    variant = Variant(text=_text(slug, 2), media=(_image(emulator),))

    assert provider.validate(variant).is_valid
    result = provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    assert result.remote_id


@pytest.mark.parametrize("slug", SLUGS)
def test_fetch_metrics_for_published_posts(slug, emulator):
    provider, credentials = connect(slug)
    ids = []
    for n in range(2):
        variant = _post(provider, emulator, slug, 10 + n)
        ids.append(provider.publish(credentials, variant, handle=provider.prepare(credentials, variant)).remote_id)

    snapshots = provider.fetch_metrics(credentials, ids)

    assert sorted(s.remote_id for s in snapshots) == sorted(ids)
    assert all(s.likes >= 0 and s.replies >= 0 and s.reposts >= 0 for s in snapshots)


ERROR_CASES = [
    ("expired_token", ErrorKind.AUTH_EXPIRED),
    ("rate_limit", ErrorKind.RATE_LIMITED),
    ("duplicate", ErrorKind.DUPLICATE),
    ("invalid", ErrorKind.INVALID_CONTENT),
    ("server_error", ErrorKind.TRANSIENT),
]


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize(("fault", "kind"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_each_error_class_is_recognised(slug, fault, kind, emulator):
    provider, credentials = connect(slug)
    if kind is ErrorKind.DUPLICATE and not provider.reports_duplicates:
        pytest.skip("the platform has no duplicate-content error")
    emulator.inject_fault(slug, fault, operation="publish", retry_after=42)
    variant = _post(provider, emulator, slug, 20)

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=provider.prepare(credentials, variant))

    assert caught.value.kind is kind
    assert caught.value.maybe_sent is False
    if kind is ErrorKind.RATE_LIMITED:
        assert caught.value.retry_after is not None and 30 <= caught.value.retry_after <= 43
    assert credentials.access_token not in caught.value.message


@pytest.mark.parametrize("slug", SLUGS)
def test_refresh_gives_working_credentials(slug, emulator):
    provider, credentials = connect(slug)
    if not provider.supports_refresh:
        pytest.skip("tokens of this platform do not expire")
    emulator.expire_tokens(slug, credentials.account_id)

    tokens = provider.refresh_credentials(credentials)

    assert tokens.access_token and tokens.access_token != credentials.access_token
    fresh = Credentials(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token or credentials.refresh_token,
        account_id=credentials.account_id,
        config=credentials.config,
    )
    variant = _post(provider, emulator, slug, 30)
    assert provider.publish(fresh, variant, handle=provider.prepare(fresh, variant)).remote_id


@pytest.mark.parametrize("slug", SLUGS)
def test_a_failed_refresh_is_auth_expired(slug, emulator):
    provider, credentials = connect(slug)
    if not provider.supports_refresh:
        pytest.skip("tokens of this platform do not expire")
    emulator.inject_fault(slug, "refresh_fails", operation="refresh")

    with pytest.raises(ProviderError) as caught:
        provider.refresh_credentials(credentials)

    assert caught.value.kind is ErrorKind.AUTH_EXPIRED


@pytest.mark.parametrize("slug", SLUGS)
def test_lookup_after_a_lost_response_finds_the_post_exactly_once(slug, emulator):
    provider, credentials = connect(slug)
    variant = _post(provider, emulator, slug, 40)
    handle = provider.prepare(credentials, variant)
    emulator.inject_fault(slug, "lost_response", operation="publish")

    with pytest.raises(ProviderError) as caught:
        provider.publish(credentials, variant, handle=handle)

    assert caught.value.maybe_sent is True
    found = provider.lookup(credentials, variant, handle=handle)
    assert found is not None and found.remote_id
    # A post that was never made is not found.
    other = _post(provider, emulator, slug, 41)
    assert provider.lookup(credentials, other, handle=provider.prepare(credentials, other)) is None


@pytest.mark.parametrize("slug", SLUGS)
def test_delete_removes_the_post(slug, emulator):
    provider, credentials = connect(slug)
    if not provider.can_delete:
        pytest.skip("the platform does not let apps delete posts")
    variant = _post(provider, emulator, slug, 50)
    handle = provider.prepare(credentials, variant)
    result = provider.publish(credentials, variant, handle=handle)

    provider.delete(credentials, result.remote_id)

    assert provider.lookup(credentials, variant, handle=handle) is None


def test_a_text_only_post_is_refused_where_media_is_required(emulator):
    for slug in REGISTRY:
        provider = provider_for(slug, server="mastodon.example" if slug == "mastodon" else "")
        result = provider.validate(Variant(text="Just words"))
        assert result.is_valid is not provider.requires_media, slug


def test_every_provider_names_itself_like_the_registry():
    from publishing.providers import DISPLAY_NAMES, provider_class

    for slug in REGISTRY:
        cls = provider_class(slug)
        assert cls.slug == slug
        assert cls.display_name == DISPLAY_NAMES[slug]
        assert cls.max_text_length > 0
        assert re.fullmatch(r"[a-z]+", slug)
