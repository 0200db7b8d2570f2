"""Threads (graph.threads.net): text, image and video containers published exactly once."""

from __future__ import annotations
