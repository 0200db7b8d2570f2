"""Sign-up, email verification, login, rate limits, password reset, logout, change email, Google, layout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "Growth-Plan-42!"
LINK = re.compile(r"https?://testserver(/accounts/\S+)")


@pytest.fixture(autouse=True)
def _fresh_cache():
    # allauth keeps its rate limits (and used TOTP codes) in the cache.
    cache.clear()
    yield
    cache.clear()


def verified_user(email: str = "ann@example.com", **kwargs) -> User:
    user = UserFactory(email=email, **kwargs)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def link_in(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def sign_up(client, email: str, password: str = STRONG_PASSWORD, password2: str | None = None):
    return client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password2 or password})


def log_in(client, email: str, password: str = DEFAULT_PASSWORD, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password, **extra})


def logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


class _Controls(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.submit_buttons: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.inputs[attributes["name"]] = attributes
        if tag == "button" and attributes.get("type") == "submit":
            self.submit_buttons.append(attributes.get("class"))


def controls_of(response) -> _Controls:
    parser = _Controls()
    parser.feed(response.content.decode())
    return parser


def inputs_of(response) -> dict[str, dict[str, str | None]]:
    return controls_of(response).inputs


# ---------------------------------------------------------------- layout


@pytest.mark.parametrize(
    ("url", "title", "fields", "button"),
    [
        (
            "/accounts/login/",
            "Sign In · LetsGrow",
            {"login": "email", "password": "password"},
            "btn btn-primary w-100 py-2",
        ),
        (
            "/accounts/signup/",
            "Signup · LetsGrow",
            {"email": "email", "password1": "password", "password2": "password"},
            "btn btn-primary w-100 py-2",
        ),
        ("/accounts/password/reset/", "Password Reset · LetsGrow", {"email": "email"}, "btn btn-primary"),
    ],
)
def test_entrance_pages_use_the_site_layout_with_bootstrap_fields(client, url, title, fields, button):
    response = client.get(url)

    html = response.content.decode()
    controls = controls_of(response)
    inputs = controls.inputs
    assert response.status_code == 200
    assert '<html lang="en" data-bs-theme="dark">' in html
    assert '/static/vendor/bootstrap/css/bootstrap.min.css"' in html
    assert " ".join(re.search(r"<title>(.*?)</title>", html, re.S).group(1).split()) == title
    for name, input_type in fields.items():
        assert inputs[name]["class"] == "form-control"
        assert inputs[name]["type"] == input_type
    # Logged out, the navbar has no form: the only submit button is the page's.
    assert controls.submit_buttons == [button]


def test_the_login_page_shows_remember_me_as_a_bootstrap_checkbox(client):
    inputs = inputs_of(client.get("/accounts/login/"))

    assert inputs["remember"]["class"] == "form-check-input"
    assert inputs["remember"]["type"] == "checkbox"


def test_account_settings_pages_have_the_settings_nav(client):
    user = verified_user()
    client.force_login(user)

    response = client.get("/accounts/email/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<nav class="lg-manage-nav" aria-label="Account settings">' in html
    assert re.search(
        r'class="list-group-item list-group-item-action active"\s+aria-current="page" href="/accounts/email/"', html
    )
    assert 'href="/accounts/password/change/"' in html
    assert 'href="/accounts/2fa/"' in html


# ---------------------------------------------------------------- sign-up and verification


def test_sign_up_sends_a_verification_email_and_logs_in_only_once_the_address_is_confirmed(client, mailoutbox):
    response = sign_up(client, "new@example.com")

    user = User.objects.get(email="new@example.com")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert logged_in_user_id(client) is None
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")) == [
        ("new@example.com", False, True)
    ]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new@example.com"]
    assert mailoutbox[0].subject == "[LetsGrow] Confirm your email address to finish signing up"
    link = link_in(mailoutbox[0])

    # Until the address is verified, logging in only leads to "verify your email".
    other = Client()
    response = log_in(other, "new@example.com", STRONG_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert logged_in_user_id(other) is None
    assert "Verify Your Email Address" in other.get("/accounts/confirm-email/").content.decode()

    # Opening the link only shows a confirmation page (mail scanners must not confirm).
    response = client.get(link)
    assert response.status_code == 200
    assert "Please confirm that" in response.content.decode()
    assert EmailAddress.objects.get(user=user).verified is False

    response = client.post(link)
    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert EmailAddress.objects.get(user=user).verified is True
    assert logged_in_user_id(client) == str(user.pk)


def test_a_tampered_verification_link_says_so_and_verifies_nothing(client, mailoutbox):
    sign_up(client, "new@example.com")
    link = link_in(mailoutbox[0])
    tampered = link.rstrip("/")[:-2] + "xx/"

    response = client.get(tampered)
    posted = client.post(tampered)

    assert response.status_code == 200
    assert "This email confirmation link expired or is invalid." in response.content.decode()
    assert posted.status_code == 404
    assert EmailAddress.objects.get(email="new@example.com").verified is False
    assert logged_in_user_id(client) is None


def test_signing_up_with_a_taken_email_in_any_case_says_so_and_creates_nothing(client, mailoutbox):
    verified_user("ann@example.com")

    response = sign_up(client, "ANN@Example.com")

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": ["There is already a LetsGrow account with this email address. Log in, or reset your password."]
    }
    assert "There is already a LetsGrow account with this email address." in response.content.decode()
    assert User.objects.count() == 1
    assert EmailAddress.objects.count() == 1
    assert mailoutbox == []


def test_an_address_taken_by_a_user_made_outside_sign_up_is_refused_too(client, mailoutbox):
    # e.g. created in the admin: mixed case and no allauth EmailAddress row.
    User.objects.create_user(email="Bob@Example.com", password=DEFAULT_PASSWORD)

    response = sign_up(client, "bob@example.com")

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": ["There is already a LetsGrow account with this email address. Log in, or reset your password."]
    }
    assert User.objects.count() == 1
    assert EmailAddress.objects.count() == 0
    assert mailoutbox == []


SPECIAL = "a special character such as ! ? # or -"


@pytest.mark.parametrize(
    ("password", "errors"),
    [
        ("Gr0w-x", ["This password is too short. It must contain at least 8 characters."]),
        ("growth-plan-42!", ["Your password needs an upper-case letter."]),
        ("GROWTH-PLAN-42!", ["Your password needs a lower-case letter."]),
        ("Growth-Plan-XY!", ["Your password needs a digit."]),
        ("GrowthPlan42", [f"Your password needs {SPECIAL}."]),
        (
            "grwth",
            [
                "This password is too short. It must contain at least 8 characters.",
                f"Your password needs an upper-case letter, a digit and {SPECIAL}.",
            ],
        ),
    ],
)
def test_a_weak_password_is_refused_with_what_is_missing(client, mailoutbox, password, errors):
    response = sign_up(client, "new@example.com", password)

    assert response.status_code == 200
    assert response.context["form"].errors == {"password1": errors}
    for error in errors:
        assert error in response.content.decode()
    assert User.objects.count() == 0
    assert mailoutbox == []


def test_mismatched_passwords_are_refused(client):
    response = sign_up(client, "new@example.com", STRONG_PASSWORD, "Growth-Plan-43!")

    assert response.context["form"].errors == {"password2": ["You must type the same password each time."]}
    assert User.objects.count() == 0


def test_a_strong_password_is_accepted(client):
    response = sign_up(client, "new@example.com", STRONG_PASSWORD)

    assert response.status_code == 302
    assert User.objects.get().check_password(STRONG_PASSWORD)


# ---------------------------------------------------------------- login and its rate limit


def test_a_verified_user_logs_in_and_lands_on_the_start_page(client):
    user = verified_user()

    response = log_in(client, "ann@example.com")

    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert logged_in_user_id(client) == str(user.pk)


@pytest.mark.parametrize(("email", "password"), [("ann@example.com", "Wrong-pass-1!"), ("nobody@example.com", "x")])
def test_a_wrong_password_or_unknown_email_gets_the_same_generic_error(client, email, password):
    verified_user()

    response = log_in(client, email, password)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["The email address or the password is not right."]
    assert "The email address or the password is not right." in response.content.decode()
    assert logged_in_user_id(client) is None


def test_after_five_failed_logins_even_the_right_password_is_refused(client):
    verified_user()
    for _ in range(5):
        assert log_in(client, "ann@example.com", "Wrong-pass-1!").status_code == 200

    response = log_in(client, "ann@example.com", DEFAULT_PASSWORD)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Too many failed login attempts. Try again later."]
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert logged_in_user_id(client) is None


# ---------------------------------------------------------------- password reset, logout


def test_password_reset_mails_a_link_that_sets_a_new_password(client, mailoutbox):
    user = verified_user()

    response = client.post("/accounts/password/reset/", {"email": "ANN@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ann@example.com"]
    assert mailoutbox[0].subject == "[LetsGrow] Reset your password"
    response = client.get(link_in(mailoutbox[0]))
    assert response.status_code == 302
    form_url = response["Location"]
    assert form_url == f"/accounts/password/reset/key/{user_pk_to_url_str(user)}-set-password/"
    weak = client.post(form_url, {"password1": "weakpass", "password2": "weakpass"})
    assert weak.status_code == 200
    assert weak.context["form"].errors == {
        "password1": [f"Your password needs an upper-case letter, a digit and {SPECIAL}."]
    }
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)

    response = client.post(form_url, {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/key/done/"
    user.refresh_from_db()
    assert user.check_password(STRONG_PASSWORD)
    assert log_in(Client(), "ann@example.com", STRONG_PASSWORD)["Location"] == "/app/"


def test_a_tampered_password_reset_link_changes_nothing(client, mailoutbox):
    user = verified_user()
    client.post("/accounts/password/reset/", {"email": "ann@example.com"})
    tampered = link_in(mailoutbox[0]).rstrip("/")[:-2] + "xx/"

    response = client.get(tampered, follow=True)

    assert response.status_code == 200
    assert "The password reset link was invalid" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_logout_is_a_post(client):
    client.force_login(verified_user())

    shown = client.get("/accounts/logout/")
    assert shown.status_code == 200
    assert logged_in_user_id(client) is not None

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(client) is None


def test_changing_the_password_needs_the_current_one_and_follows_the_rules(client):
    user = verified_user()
    client.force_login(user)
    url = "/accounts/password/change/"

    wrong = client.post(url, {"oldpassword": "Not-mine-1!", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD})
    weak = client.post(url, {"oldpassword": DEFAULT_PASSWORD, "password1": "growthplan", "password2": "growthplan"})
    user.refresh_from_db()
    assert wrong.context["form"].errors == {"oldpassword": ["Please type your current password."]}
    assert weak.context["form"].errors == {
        "password1": [f"Your password needs an upper-case letter, a digit and {SPECIAL}."]
    }
    assert user.check_password(DEFAULT_PASSWORD)

    response = client.post(
        url, {"oldpassword": DEFAULT_PASSWORD, "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(STRONG_PASSWORD)


# ---------------------------------------------------------------- change email


def test_a_new_email_address_becomes_primary_only_once_verified(client, mailoutbox):
    user = verified_user("ann@example.com")
    client.force_login(user)

    response = client.post("/accounts/email/", {"action_add": "", "email": "Ann.New@example.com"})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ann.new@example.com"]
    assert mailoutbox[0].subject == "[LetsGrow] Confirm your email address"
    assert sorted(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")) == [
        ("ann.new@example.com", False, False),
        ("ann@example.com", True, True),
    ]
    user.refresh_from_db()
    assert user.email == "ann@example.com"

    response = client.post(link_in(mailoutbox[0]))

    assert response.status_code == 302
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")) == [
        ("ann.new@example.com", True, True)
    ]
    user.refresh_from_db()
    assert user.email == "ann.new@example.com"


def test_changing_to_an_invalid_address_changes_nothing(client, mailoutbox):
    user = verified_user("ann@example.com")
    client.force_login(user)

    response = client.post("/accounts/email/", {"action_add": "", "email": "not-an-email"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": ["Enter a valid email address."]}
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")) == [
        ("ann@example.com", True, True)
    ]
    assert mailoutbox == []


# ---------------------------------------------------------------- Google


def _login_page_with_env(tmp_path: Path, **google: str) -> dict:
    """Start Django in a fresh process (INSTALLED_APPS depends on the env) and look at the login page."""
    script = """
import json
import django
django.setup()
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
connection.creation.create_test_db(verbosity=0, serialize=False)
from allauth.socialaccount.adapter import get_adapter
response = Client().get("/accounts/login/")
print(json.dumps({
    "installed": "allauth.socialaccount.providers.google" in settings.INSTALLED_APPS,
    "providers": [p.id for p in get_adapter().list_providers(response.wsgi_request)],
    "status": response.status_code,
    "html": response.content.decode(),
}))
"""
    # Never a real database server: the child builds its own in-memory SQLite test database.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "GOOGLE_CLIENT_SECRET_FILE"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "letsgrow.settings.test",
            "LETSGROW_VAR_DIR": str(tmp_path),
            # Set (even empty) so a developer's .env cannot fill them in.
            "GOOGLE_CLIENT_ID": "",
            "GOOGLE_CLIENT_SECRET": "",
            **google,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_google_credentials_there_is_no_google_sign_in(tmp_path):
    page = _login_page_with_env(tmp_path)

    assert page["installed"] is False
    assert page["providers"] == []
    assert page["status"] == 200
    assert "google" not in page["html"].lower()


def test_with_google_credentials_the_login_page_offers_google(tmp_path):
    page = _login_page_with_env(tmp_path, GOOGLE_CLIENT_ID="client-id.apps.example", GOOGLE_CLIENT_SECRET="s3cret")

    assert page["installed"] is True
    assert page["providers"] == ["google"]
    assert page["status"] == 200
    assert 'href="/accounts/google/login/?process=login"' in page["html"]
    assert "Continue with Google" in page["html"]
    assert "s3cret" not in page["html"]
