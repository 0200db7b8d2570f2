"""The site's shell in a real browser: theme, local assets, the staff login."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from letsgrow.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_renders_dark_with_bootstrap_from_our_own_origin(page, live_server, offsite_requests):
    page.goto(live_server.url + "/")

    assert page.title() == "Social posts, on time, exactly once · LetsGrow"
    # Bootstrap's dark theme sets the body colour; this proves the CSS loaded and applied.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(33, 37, 41)"
    assert page.evaluate("typeof window.bootstrap") == "object"
    assert page.locator("h1").inner_text() == "Grow on every network, without the busywork"
    assert offsite_requests == []


def test_demo_staff_user_is_sent_to_two_factor_setup_on_the_way_to_admin(page, live_server, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    settings.DEBUG = False

    page.goto(live_server.url + "/admin/")
    page.fill("input[name=login]", DEMO_EMAIL)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("form button[type=submit]").last.click()

    # allauth asks for the password again before any two-factor change.
    page.wait_for_url("**/accounts/reauthenticate/**")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/accounts/2fa/totp/activate/**")
    assert page.locator("input[name=code]").count() == 1
