from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class PublishingConfig(AppConfig):
    """Delivery: connections, providers, targets, the state machine, scheduling."""

    name = "publishing"
    verbose_name = "Publishing"

    def ready(self) -> None:
        checks.register(check_lease_settings)


def check_lease_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A publish call needs the margin left on a lease that a live worker renews every few seconds."""
    from django.conf import settings

    lease = settings.PUBLISH_LEASE_SECONDS
    renew = settings.PUBLISH_LEASE_RENEW_SECONDS
    margin = settings.PUBLISH_LEASE_MARGIN_SECONDS
    if renew > 0 and margin > 0 and margin + renew < lease:
        return []
    return [
        checks.Error(
            f"PUBLISH_LEASE_MARGIN_SECONDS ({margin}) + PUBLISH_LEASE_RENEW_SECONDS ({renew}) must be positive "
            f"and below PUBLISH_LEASE_SECONDS ({lease}): otherwise a worker would renew its leases too late "
            "to keep sending.",
            hint="The defaults are 30 + 5 < 45.",
            id="publishing.E001",
        )
    ]
