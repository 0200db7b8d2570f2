"""Build each provider with its configuration: the real platform, or the local emulator.

The one place that reads platform settings; providers themselves never do.
"""

from __future__ import annotations

from django.conf import settings

from publishing.emulator.core import EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET
from publishing.providers import provider_class
from publishing.providers.base import Provider, ProviderConfig

# Real endpoints (PLATFORMS.md). Mastodon and Bluesky depend on the account's server.
REAL_BASES: dict[str, tuple[str, str]] = {
    # slug: (api_base, auth_base)
    "x": ("https://api.x.com", "https://x.com"),
    "linkedin": ("https://api.linkedin.com", "https://www.linkedin.com"),
    "facebook": ("https://graph.facebook.com", "https://www.facebook.com"),
    "instagram": ("https://graph.facebook.com", "https://www.facebook.com"),
    "threads": ("https://graph.threads.net", "https://threads.com"),
}


def is_emulated() -> bool:
    return settings.PLATFORM_EMULATOR_ENABLED


def emulator_base(slug: str) -> str:
    return f"{settings.PLATFORM_EMULATOR_URL.rstrip('/')}/{slug}"


def config_for(slug: str, *, server: str = "") -> ProviderConfig:
    """The provider configuration for `slug`. `server`: a Mastodon instance host or a Bluesky PDS URL."""
    extra = {
        "linkedin_version": settings.LINKEDIN_API_VERSION,
        "graph_version": settings.META_GRAPH_VERSION,
        "appview": settings.BLUESKY_APPVIEW_URL,
        "emulated": is_emulated(),
    }
    timeout = settings.PLATFORM_TIMEOUT_SECONDS
    if is_emulated():
        base = emulator_base(slug)
        if slug == "mastodon" and server:
            base = f"{base}/{server}"
        if slug == "bluesky":
            extra["appview"] = base
        return ProviderConfig(
            api_base=base,
            auth_base=base,
            client_id=EMULATOR_CLIENT_ID,
            client_secret=EMULATOR_CLIENT_SECRET,
            timeout=timeout,
            extra=extra,
        )
    if slug == "mastodon":
        return ProviderConfig(api_base=f"https://{server}", auth_base=f"https://{server}", timeout=timeout, extra=extra)
    if slug == "bluesky":
        pds = (server or settings.BLUESKY_DEFAULT_PDS).rstrip("/")
        return ProviderConfig(api_base=pds, auth_base=pds, timeout=timeout, extra=extra)
    api_base, auth_base = REAL_BASES[slug]
    client_id, client_secret = settings.PLATFORM_CREDENTIALS.get(slug, ("", ""))
    return ProviderConfig(
        api_base=api_base,
        auth_base=auth_base,
        client_id=client_id,
        client_secret=client_secret,
        timeout=timeout,
        extra=extra,
    )


def provider_for(slug: str, *, server: str = "", client_id: str = "", client_secret: str = "") -> Provider:
    """A ready provider for `slug`. Mastodon passes its per-instance app credentials."""
    config = config_for(slug, server=server)
    if client_id:
        config = ProviderConfig(
            api_base=config.api_base,
            auth_base=config.auth_base,
            client_id=client_id,
            client_secret=client_secret,
            timeout=config.timeout,
            extra=config.extra,
        )
    return provider_class(slug)(config)


def is_configured(slug: str) -> bool:
    """Whether connecting to `slug` can work here (the emulator, or real app credentials)."""
    if is_emulated() or slug in ("mastodon", "bluesky"):
        return True
    client_id, client_secret = settings.PLATFORM_CREDENTIALS.get(slug, ("", ""))
    return bool(client_id and client_secret)
