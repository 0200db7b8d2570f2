from __future__ import annotations

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class LetsGrowConfig(AppConfig):
    """Project-wide management commands and wiring; no models."""

    name = "letsgrow"
    verbose_name = "LetsGrow"

    def ready(self) -> None:
        # Links in emails (verification, invitations) are built from the Site
        # row; keep it equal to the configured domain on every migrate. Sent for
        # the sites app (this app has no models, so none is sent for it), after
        # sites' own handler has created the default row.
        post_migrate.connect(_sync_site, sender=apps.get_app_config("sites"))


def _sync_site(sender, using="default", **kwargs) -> None:
    from django.conf import settings
    from django.contrib.sites.models import Site

    Site.objects.using(using).update_or_create(
        pk=settings.SITE_ID, defaults={"domain": settings.SITE_DOMAIN, "name": settings.SITE_NAME}
    )
