"""Declare every periodic task (letsgrow/periodic_tasks.py) in beat's database. Idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from letsgrow.services import setup_periodic_tasks


class Command(BaseCommand):
    help = "Create, update or remove beat's periodic tasks to match the code. Safe to run on every deploy."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; change nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        report = setup_periodic_tasks(dry_run=dry_run)
        prefix = "would be " if dry_run else ""
        for label, names in (("created", report.created), ("updated", report.updated), ("removed", report.removed)):
            for name in names:
                self.stdout.write(f"{prefix}{label}: {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"periodic tasks: {len(report.created)} {prefix}created, {len(report.updated)} {prefix}updated, "
                f"{len(report.unchanged)} unchanged, {len(report.removed)} {prefix}removed"
            )
        )
