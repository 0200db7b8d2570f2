"""Re-encrypt every encrypted field with the first key of FIELD_ENCRYPTION_KEY.

Rotation: put the new key first and keep the old ones after it
(`FIELD_ENCRYPTION_KEY=new,old`), deploy, run this command, then drop the old
keys. It refuses to write anything while a stored value cannot be decrypted with
the configured keys, and names the model, field and row count (never a value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cryptography.fernet
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, models, router, transaction
from django.db.models.functions import Cast
from encrypted_model_fields import fields as encrypted_fields


@dataclass
class FieldScan:
    model: type[models.Model]
    field_name: str
    rotated: dict[Any, tuple[str, str]] = field(default_factory=dict)  # pk → (stored, re-encrypted)
    undecryptable: int = 0

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field_name}"


def encrypted_fields_of_all_models() -> list[tuple[type[models.Model], models.Field]]:
    """(model, field) for every concrete field of every installed, managed model that is encrypted."""
    found = []
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        for model_field in meta.local_concrete_fields:
            if isinstance(model_field, encrypted_fields.EncryptedMixin):
                found.append((model, model_field))
    return found


def scan(model: type[models.Model], model_field: models.Field) -> FieldScan:
    """Read the stored ciphertexts (not the decrypted values) and re-encrypt each with the first key."""
    crypter = encrypted_fields.CRYPTER  # read now: it is the module's, built from the settings at import
    result = FieldScan(model=model, field_name=model_field.name)
    raw = (
        model._default_manager.exclude(**{f"{model_field.attname}__isnull": True})
        .annotate(_stored=Cast(model_field.attname, output_field=models.TextField()))
        .values_list("pk", "_stored")
    )
    for pk, stored in raw.iterator(chunk_size=500):
        try:
            result.rotated[pk] = (stored, crypter.rotate(stored.encode("utf-8")).decode("utf-8"))
        except cryptography.fernet.InvalidToken:
            result.undecryptable += 1
    return result


class Command(BaseCommand):
    help = "Re-encrypt every encrypted model field with the first FIELD_ENCRYPTION_KEY (key rotation)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check and count; change nothing.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        scans = [scan(model, model_field) for model, model_field in encrypted_fields_of_all_models()]
        broken = [s for s in scans if s.undecryptable]
        if broken:
            listed = "; ".join(f"{s.label}: {s.undecryptable} row(s)" for s in broken)
            raise CommandError(
                "Some stored values cannot be decrypted with the configured FIELD_ENCRYPTION_KEY, "
                f"so nothing was re-encrypted. Add the key they were written with, then run again. {listed}"
            )
        total = sum(len(s.rotated) for s in scans)
        if dry_run:
            for s in scans:
                self.stdout.write(f"{s.label}: {len(s.rotated)} value(s) would be re-encrypted")
            self.stdout.write(f"Dry run: {total} value(s) in {len(scans)} field(s) would be re-encrypted.")
            return
        written = 0
        with transaction.atomic():
            for s in scans:
                count = sum(_write(s, pk, stored, ciphertext) for pk, (stored, ciphertext) in s.rotated.items())
                written += count
                self.stdout.write(f"{s.label}: {count} value(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {written} value(s) in {len(scans)} field(s)."))


def _write(result: FieldScan, pk: Any, stored: str, ciphertext: str) -> int:
    """Replace one stored value, unless the app changed it since the scan (then it is already current).

    Plain SQL on purpose: every ORM write passes the value through the field's
    `get_db_prep_save`, and the library's fields encrypt whatever they are given,
    expressions included (str() of a Value), so a ciphertext would be encrypted again.
    """
    meta = result.model._meta
    connection = connections[router.db_for_write(result.model)]
    quote = connection.ops.quote_name
    column = quote(meta.get_field(result.field_name).column)
    sql = f"UPDATE {quote(meta.db_table)} SET {column} = %s WHERE {quote(meta.pk.column)} = %s AND {column} = %s"  # noqa: S608 (names from the models, values as parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [ciphertext, pk, stored])
        return cursor.rowcount
