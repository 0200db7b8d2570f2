"""Instagram (Graph API, Facebook Login for Business): media containers published exactly once."""

from __future__ import annotations
