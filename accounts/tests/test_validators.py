"""The product's password rules: at least 8 characters with upper, lower, digit and special."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import password_validators_help_texts, validate_password
from django.core.exceptions import ValidationError

from accounts.validators import CharacterClassesValidator


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("abcdefg1!", "Your password needs an upper-case letter."),
        ("ABCDEFG1!", "Your password needs a lower-case letter."),
        ("Abcdefgh!", "Your password needs a digit."),
        ("Abcdefg12", "Your password needs a special character such as ! ? # or -."),
        ("Abcd efg1", "Your password needs a special character such as ! ? # or -."),
        ("abcdefgh", "Your password needs an upper-case letter, a digit and a special character such as ! ? # or -."),
        (
            "",
            "Your password needs an upper-case letter, a lower-case letter, a digit "
            "and a special character such as ! ? # or -.",
        ),
    ],
)
def test_a_password_missing_a_character_class_is_refused_with_what_is_missing(password, message):
    with pytest.raises(ValidationError) as caught:
        CharacterClassesValidator().validate(password)

    assert caught.value.messages == [message]
    assert caught.value.error_list[0].code == "password_missing_character_classes"


@pytest.mark.parametrize("password", ["Sup3r-secret!", "Ünïcode-1x", "Growth plan 42!", "aB3#"])
def test_a_password_with_every_character_class_passes_the_validator(password):
    assert CharacterClassesValidator().validate(password) is None


@pytest.mark.django_db
def test_all_configured_validators_report_every_problem_at_once():
    with pytest.raises(ValidationError) as caught:
        validate_password("xqzw")

    assert caught.value.messages == [
        "This password is too short. It must contain at least 8 characters.",
        "Your password needs an upper-case letter, a digit and a special character such as ! ? # or -.",
    ]


@pytest.mark.django_db
def test_a_strong_password_passes_all_configured_validators():
    assert validate_password("Growth-Plan-42!") is None


def test_the_rules_are_explained_in_the_help_text():
    assert CharacterClassesValidator().get_help_text() in password_validators_help_texts()
    assert CharacterClassesValidator().get_help_text() == (
        "Use at least one upper-case letter, one lower-case letter, one digit and one special character."
    )
