"""Delivery: connections, providers, targets, the state machine, scheduling."""

from __future__ import annotations
