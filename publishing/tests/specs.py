"""Where the official API specs are (../shared/specs/), and what to do when they are missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

SPECS_DIR = Path(settings.BASE_DIR).parent / "shared" / "specs"


def require_spec(path: Path) -> Path:
    """Return `path`; skip when it is missing on a laptop, fail in CI (where shared/ is always beside the repo)."""
    if path.exists():
        return path
    message = f"the official spec is not at {path} (../shared/specs/ beside the repository)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
