"""Writes for plans and subscriptions: one public function per use case.

Paid plans are bought through Stripe Checkout (a later issue); until then every
workspace is on the free plan.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import Workspace
from billing.models import Subscription
from billing.plans import DEFAULT_PLAN


@transaction.atomic
def ensure_subscription(*, workspace: Workspace) -> Subscription:
    """Return the workspace's subscription, creating an active free one if it has none.

    An existing subscription (whatever its plan or status) is returned unchanged.
    """
    subscription, _created = Subscription.objects.get_or_create(
        workspace=workspace,
        defaults={"plan": DEFAULT_PLAN.key, "status": Subscription.Status.ACTIVE},
    )
    return subscription
