"""Posts already waiting for review get a submitted_at (their last change), so the queue can order them."""

from django.db import migrations
from django.db.models import F


def backfill(apps, schema_editor):
    Post = apps.get_model("content", "Post")
    Post.objects.filter(status="pending_review", submitted_at__isnull=True).update(submitted_at=F("updated_at"))


class Migration(migrations.Migration):
    dependencies = [("content", "0004_pendingreviewpost_alter_post_options_and_more")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
