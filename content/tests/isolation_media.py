"""Builders for tests/test_isolation.py: one media asset of a workspace for each media URL with an id."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Callable

from PIL import Image

from accounts.models import Workspace
from content.models import MediaAsset


def _tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (30, 160, 90)).save(out, format="PNG")
    return out.getvalue()


def _asset_of(workspace: Workspace) -> dict[str, object]:
    # The row describes a real generated image, but its bytes are not written: the isolation walk
    # never reads the file, and it runs with the real MEDIA_ROOT, which tests must not fill.
    data = _tiny_png()
    storage_name = f"{secrets.token_hex(16)}.png"
    asset = MediaAsset.objects.create(
        workspace=workspace,
        kind=MediaAsset.Kind.IMAGE,
        storage_name=storage_name,
        file=f"media/{workspace.pk}/{storage_name}",
        original_name="tiny.png",
        content_type="image/png",
        size_bytes=len(data),
        width=4,
        height=3,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return {"pk": asset.pk}


ID_BUILDERS: dict[str, Callable[[Workspace], dict[str, object]]] = {
    "content_media:detail": _asset_of,
    "content_media:alt_text": _asset_of,
    "content_media:delete": _asset_of,
}
