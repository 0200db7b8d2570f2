"""`{{ asset|thumbnail_path }}`: a signed link to a library file's thumbnail (MEDIA_URL is not served in production)."""

from __future__ import annotations

from datetime import timedelta

from django import template

from content.media import signed_media_path
from content.models import MediaAsset

register = template.Library()


@register.filter
def thumbnail_path(asset: MediaAsset) -> str:
    """The signed path of the asset's thumbnail ("" when it has none, e.g. a video)."""
    if not asset or not asset.thumbnail:
        return ""
    # A page's images need to work only while the page is open.
    return signed_media_path(asset, thumbnail=True, expires_in=timedelta(hours=12))
