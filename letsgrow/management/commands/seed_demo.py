"""Load demo data for a laptop: a staff user (login printed) and a demo workspace. Idempotent."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Membership, User, Workspace
from accounts.services import create_workspace

DEMO_EMAIL = "staff@letsgrow.local"
# Meets the product's password rules; only ever set on a DEBUG install.
DEMO_PASSWORD = "LetsGrow-demo-1!"  # noqa: S105
DEMO_WORKSPACE = "Demo Workspace"


class Command(BaseCommand):
    help = "Create the demo staff user and workspace (development only) and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    @transaction.atomic
    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates a user with a published password; it runs only with DEBUG on.")
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_superuser(email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo Staff")
        elif not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        # allauth requires a verified address before login; the demo one is known good.
        EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
        workspace = Workspace.objects.filter(memberships__user=user, name=DEMO_WORKSPACE).first()
        if workspace is None:
            workspace = create_workspace(owner=user, name=DEMO_WORKSPACE)
        role = Membership.objects.get(user=user, workspace=workspace).role
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Staff login:  {DEMO_EMAIL} / {DEMO_PASSWORD}  (http://127.0.0.1:8000/admin/)")
        self.stdout.write(f"  Workspace:    {workspace.name} (you are its {role})")
        if settings.STAFF_REQUIRE_2FA:
            self.stdout.write("  Staff must set up two-factor authentication (any TOTP app) on first admin visit.")
