from __future__ import annotations

from django.apps import AppConfig


class ContentConfig(AppConfig):
    """What is said: posts' text and variants, templates, domains, media, AI."""

    name = "content"
    verbose_name = "Content"
