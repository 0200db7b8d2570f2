"""The site's shell: home page, admin login, static assets from npm, demo data."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string

from accounts.models import Membership, User, Workspace
from letsgrow.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def test_home_page_uses_the_dark_theme_and_local_assets(client):
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en" data-bs-theme="dark">' in html
    assert '/static/vendor/bootstrap/css/bootstrap.min.css"' in html
    assert '/static/vendor/bootstrap/js/bootstrap.bundle.min.js"' in html
    # No CDN: every stylesheet and script comes from our own origin.
    assert "https://" not in html.split("<body")[0]
    assert "cdn" not in html.lower()


def test_the_site_and_the_admin_have_an_icon_and_favicon_ico_leads_to_it(client, rf):
    request = rf.get("/admin/")
    request.user = AnonymousUser()
    admin_page = render_to_string("admin/base_site.html", {"title": "Staff"}, request=request)
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in admin_page
    assert finders.find("favicon.svg")

    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"


@pytest.mark.parametrize(
    "asset",
    [
        "vendor/bootstrap/css/bootstrap.min.css",
        "vendor/bootstrap/js/bootstrap.bundle.min.js",
        "vendor/bootstrap-icons/bootstrap-icons.min.css",
        "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2",
        "css/letsgrow.css",
    ],
)
def test_front_end_assets_come_from_the_npm_packages(asset):
    assert finders.find(asset) is not None, f"{asset} missing: run `npm ci`"


def test_admin_login_goes_through_allauth(client):
    response = client.get("/admin/login/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/accounts/login/").status_code == 200


def test_admin_requires_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_seed_demo_creates_a_staff_login_and_a_workspace_once(settings, capsys):
    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")

    out = capsys.readouterr().out
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in out
    user = User.objects.get(email=DEMO_EMAIL)
    assert user.is_staff and user.check_password(DEMO_PASSWORD)
    assert Workspace.objects.count() == 1
    assert Membership.objects.get(user=user).role == Membership.Role.OWNER


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("seed_demo")

    assert not User.objects.exists()


def test_the_demo_staff_user_logs_in_and_is_asked_for_two_factor_before_admin(client, settings):
    settings.DEBUG = True
    call_command("seed_demo")

    response = client.post(
        "/accounts/login/", {"login": DEMO_EMAIL, "password": DEMO_PASSWORD, "next": "/admin/"}, follow=True
    )

    chain = [url for url, _ in response.redirect_chain]
    assert chain[:2] == ["/admin/", "/accounts/2fa/totp/activate/?next=/admin/"]
    # allauth asks for the password again before any 2FA change.
    assert response.request["PATH_INFO"] == "/accounts/reauthenticate/"
    response = client.post(
        response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"], {"password": DEMO_PASSWORD}, follow=True
    )
    assert response.request["PATH_INFO"] == "/accounts/2fa/totp/activate/"
    assert response.status_code == 200
