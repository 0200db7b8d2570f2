"""TOTP two-factor authentication (allauth MFA) for everyone, required for staff on the way to Django Admin."""

from __future__ import annotations

import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core.cache import cache

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ACTIVATE = "/accounts/2fa/totp/activate/"
AUTHENTICATE = "/accounts/2fa/authenticate/"
WRONG_CODE_ERROR = "That code is not right. Enter the code your authenticator app shows now."


@pytest.fixture(autouse=True)
def _fresh_cache():
    # allauth keeps rate limits and already-used TOTP codes in the cache.
    cache.clear()
    yield
    cache.clear()


def verified_user(email: str = "ann@example.com", **kwargs) -> User:
    user = UserFactory(email=email, **kwargs)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def code_for(secret: str, *, offset_periods: int = 0) -> str:
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD + offset_periods
    return format_hotp_value(hotp_value(secret, counter))


def wrong_code_for(secret: str) -> str:
    valid = {code_for(secret, offset_periods=i) for i in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(1_000_000)) if code not in valid)


def with_totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def reauthenticate_and_open_activation(client) -> None:
    """Two-factor changes need the password again: allauth's reauthentication step."""
    response = client.get(ACTIVATE)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/reauthenticate/?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F"
    response = client.post(response["Location"], {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE


def logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


# ---------------------------------------------------------------- activation


def test_activating_totp_with_a_wrong_code_shows_an_error_and_activates_nothing(client, mailoutbox):
    user = verified_user()
    client.force_login(user)
    reauthenticate_and_open_activation(client)
    page = client.get(ACTIVATE)
    secret = client.session[SECRET_SESSION_KEY]

    response = client.post(ACTIVATE, {"code": wrong_code_for(secret)})

    assert page.status_code == 200
    assert f'value="{secret}"' in page.content.decode()
    assert response.status_code == 200
    assert response.context["form"].errors == {"code": [WRONG_CODE_ERROR]}
    assert WRONG_CODE_ERROR in response.content.decode()
    assert 'class="form-control is-invalid"' in response.content.decode()
    assert not Authenticator.objects.filter(user=user).exists()
    assert mailoutbox == []


def test_activating_totp_with_the_right_code_turns_it_on_with_recovery_codes(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = verified_user()
    client.force_login(user)
    reauthenticate_and_open_activation(client)
    client.get(ACTIVATE)
    secret = client.session[SECRET_SESSION_KEY]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ACTIVATE, {"code": code_for(secret)})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    assert sorted(Authenticator.objects.filter(user=user).values_list("type", flat=True)) == [
        Authenticator.Type.RECOVERY_CODES,
        Authenticator.Type.TOTP,
    ]
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES).wrap()
    assert len(recovery.get_unused_codes()) == mfa_settings.RECOVERY_CODE_COUNT
    assert [m.subject for m in mailoutbox] == ["[LetsGrow] Authenticator App Activated"]
    assert client.get("/accounts/2fa/").status_code == 200


# ---------------------------------------------------------------- login with a code


def test_login_with_totp_asks_for_the_code_and_refuses_a_wrong_one(client):
    user = verified_user()
    secret = with_totp(user)

    response = client.post("/accounts/login/", {"login": "ann@example.com", "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == AUTHENTICATE
    assert logged_in_user_id(client) is None
    response = client.post(AUTHENTICATE, {"code": wrong_code_for(secret)})
    assert response.status_code == 200
    assert response.context["form"].errors == {"code": [WRONG_CODE_ERROR]}
    assert logged_in_user_id(client) is None

    response = client.post(AUTHENTICATE, {"code": code_for(secret)})

    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert logged_in_user_id(client) == str(user.pk)


def test_a_totp_code_cannot_be_used_twice(client):
    user = verified_user()
    secret = with_totp(user)
    code = code_for(secret)
    client.post("/accounts/login/", {"login": "ann@example.com", "password": DEFAULT_PASSWORD})
    client.post(AUTHENTICATE, {"code": code})
    client.post("/accounts/logout/")

    client.post("/accounts/login/", {"login": "ann@example.com", "password": DEFAULT_PASSWORD})
    response = client.post(AUTHENTICATE, {"code": code})

    assert response.status_code == 200
    assert response.context["form"].errors == {"code": [WRONG_CODE_ERROR]}
    assert logged_in_user_id(client) is None


def test_a_user_with_totp_can_still_change_their_email_once_the_new_one_is_verified(client, mailoutbox):
    user = verified_user()
    with_totp(user)
    client.force_login(user)

    response = client.post("/accounts/email/", {"action_add": "", "email": "ann.new@example.com"})

    assert response.status_code == 302
    assert [m.to for m in mailoutbox] == [["ann.new@example.com"]]
    assert sorted(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")) == [
        ("ann.new@example.com", False, False),
        ("ann@example.com", True, True),
    ]


# ---------------------------------------------------------------- staff and Django Admin


def test_staff_without_totp_are_sent_to_activate_it_after_confirming_their_password(client):
    staff = verified_user("staff@example.com", is_staff=True, is_superuser=True)

    response = client.post(
        "/accounts/login/", {"login": "staff@example.com", "password": DEFAULT_PASSWORD, "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/?next=/admin/"
    response = client.get(response["Location"])
    assert (
        response["Location"]
        == "/accounts/reauthenticate/?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F%3Fnext%3D%2Fadmin%2F"
    )
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Staff must turn on two-factor authentication before using the admin." in page.content.decode()
    response = client.post(response["Location"], {"password": DEFAULT_PASSWORD})
    assert response["Location"] == "/accounts/2fa/totp/activate/?next=/admin/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'name="code"' in page.content.decode()
    assert not Authenticator.objects.filter(user=staff).exists()


def test_staff_with_totp_log_in_with_their_code_and_reach_the_admin(client):
    staff = verified_user("staff@example.com", is_staff=True, is_superuser=True)
    secret = with_totp(staff)

    response = client.post(
        "/accounts/login/", {"login": "staff@example.com", "password": DEFAULT_PASSWORD, "next": "/admin/"}
    )
    assert response["Location"] == AUTHENTICATE
    response = client.post(AUTHENTICATE, {"code": code_for(secret)})
    assert response["Location"] == "/admin/"

    response = client.get("/admin/")

    assert response.status_code == 200
    assert "LetsGrow staff" in response.content.decode()


def test_staff_entering_a_wrong_code_do_not_reach_the_admin(client):
    staff = verified_user("staff@example.com", is_staff=True)
    secret = with_totp(staff)
    client.post("/accounts/login/", {"login": "staff@example.com", "password": DEFAULT_PASSWORD, "next": "/admin/"})

    client.post(AUTHENTICATE, {"code": wrong_code_for(secret)})
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert logged_in_user_id(client) is None


def test_a_user_who_is_not_staff_is_denied_the_admin(client):
    verified_user()
    client.post("/accounts/login/", {"login": "ann@example.com", "password": DEFAULT_PASSWORD})

    response = client.get("/admin/")
    denied = client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert denied.status_code == 403
    assert "LetsGrow staff" not in denied.content.decode()


def test_the_staff_rule_can_be_turned_off(client, settings):
    settings.STAFF_REQUIRE_2FA = False
    client.force_login(verified_user("staff@example.com", is_staff=True, is_superuser=True))

    assert client.get("/admin/").status_code == 200
