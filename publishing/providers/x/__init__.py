"""X (API v2): OAuth 2.0 with PKCE, weighted 280-character posts, chunked media upload."""

from __future__ import annotations
