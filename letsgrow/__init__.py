"""LetsGrow: settings, URLs and the Celery app. Wires everything, owns nothing."""

from __future__ import annotations

from .celery import app as celery_app

__all__ = ("celery_app",)
