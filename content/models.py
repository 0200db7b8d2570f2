"""What is said: posts' text and variants, templates, domains, media, AI."""

from __future__ import annotations
