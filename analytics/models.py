"""Metrics snapshots, dashboards, weekly reports."""

from __future__ import annotations
