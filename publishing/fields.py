"""An encrypted text field that never passes ciphertext off as plaintext.

django-encrypted-model-fields decrypts on load with the keys in
`FIELD_ENCRYPTION_KEY`, and when that fails (a wrong or missing key) its
`to_python` quietly returns the stored ciphertext, which the next API call would
then send as a token. `StrictEncryptedTextField` loads such a value as an
`UndecryptableValue` instead: it reads as an empty string (so nothing secret or
misleading can leave the process), it is recognisable (`is_undecryptable`), and
saving the row writes the stored text back unchanged, so the right key can still
read it later.
"""

from __future__ import annotations

import logging
from typing import Any

import cryptography.fernet
from django.db import models
from encrypted_model_fields import fields as encrypted_fields

logger = logging.getLogger(__name__)


class UndecryptableValue(str):
    """A stored value the configured keys cannot decrypt. Equal to "" everywhere it is used as text."""

    ciphertext: str

    def __new__(cls, ciphertext: str) -> UndecryptableValue:
        value = super().__new__(cls, "")
        value.ciphertext = ciphertext
        return value

    def __repr__(self) -> str:
        return "<undecryptable value>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (UndecryptableValue, (self.ciphertext,))


def is_undecryptable(value: object) -> bool:
    """Whether `value` was loaded from the database but could not be decrypted."""
    return isinstance(value, UndecryptableValue)


class StrictEncryptedTextField(encrypted_fields.EncryptedTextField):
    """An `EncryptedTextField` whose undecryptable values load as `UndecryptableValue`, never as ciphertext."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        try:
            # Through the module, not a copy: `CRYPTER` is read at call time (tests swap it).
            return encrypted_fields.decrypt_str(value)
        except cryptography.fernet.InvalidToken:
            owner = f"{self.model._meta.label}.{self.name}" if hasattr(self, "model") else self.name
            logger.error(
                "Cannot decrypt a value of %s: FIELD_ENCRYPTION_KEY is wrong or lacks the key it was written with.",
                owner,
            )
            return UndecryptableValue(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, UndecryptableValue):
            return value
        return super().to_python(value)

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        # Write back what was read: encrypting the placeholder would destroy the stored secret.
        if isinstance(value, UndecryptableValue):
            return value.ciphertext
        # The library would encrypt an expression's repr ("Value('…')"). A literal is
        # encrypted for what it holds; other SQL (F, Cast) moves values already stored.
        if isinstance(value, models.Value):
            value = value.value
        elif hasattr(value, "as_sql"):
            return value
        return super().get_db_prep_save(value, connection)
