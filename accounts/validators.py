"""Password rules of the product, as Django password validators."""

from __future__ import annotations

from django.core.exceptions import ValidationError

_RULES = (
    ("an upper-case letter", str.isupper),
    ("a lower-case letter", str.islower),
    ("a digit", str.isdigit),
    ("a special character such as ! ? # or -", lambda c: not c.isalnum() and not c.isspace()),
)


class CharacterClassesValidator:
    """Require an upper-case letter, a lower-case letter, a digit and a special character."""

    def validate(self, password: str, user: object | None = None) -> None:
        missing = [label for label, test in _RULES if not any(test(c) for c in password)]
        if missing:
            raise ValidationError(
                "Your password needs " + _join(missing) + ".",
                code="password_missing_character_classes",
            )

    def get_help_text(self) -> str:
        return "Use at least one upper-case letter, one lower-case letter, one digit and one special character."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
