"""The registry of platform providers: slug → dotted path, loaded lazily (STYLE §3).

Adding a platform: one package under providers/<slug>/, one line here, and its
emulator module (CONTRIBUTING.md, "Add a platform").
"""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from publishing.providers.base import Provider

REGISTRY: dict[str, str] = {
    "x": "publishing.providers.x.provider.XProvider",
    "linkedin": "publishing.providers.linkedin.provider.LinkedInProvider",
    "facebook": "publishing.providers.facebook.provider.FacebookPagesProvider",
    "instagram": "publishing.providers.instagram.provider.InstagramProvider",
    "threads": "publishing.providers.threads.provider.ThreadsProvider",
    "mastodon": "publishing.providers.mastodon.provider.MastodonProvider",
    "bluesky": "publishing.providers.bluesky.provider.BlueskyProvider",
}

# Display names without importing every provider (model choices, forms).
DISPLAY_NAMES: dict[str, str] = {
    "x": "X",
    "linkedin": "LinkedIn",
    "facebook": "Facebook Pages",
    "instagram": "Instagram",
    "threads": "Threads",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
}

PLATFORM_CHOICES = [(slug, DISPLAY_NAMES[slug]) for slug in REGISTRY]


@cache
def provider_class(slug: str) -> type[Provider]:
    """The provider class for `slug`; KeyError for an unknown platform."""
    return import_string(REGISTRY[slug])
