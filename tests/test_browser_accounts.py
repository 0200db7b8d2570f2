"""A new customer's first visit, in a real browser (Debian's chromium, headless).

Signs up, opens the verification link from the captured email, logs in, turns on
two-factor, sets up a workspace, creates a second one, invites a member who signs
up and accepts, and finishes onboarding.
"""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.cache import cache

from accounts.models import Membership, User, Workspace

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER_EMAIL = "maya@example.com"
OWNER_PASSWORD = "Grow-fast-2026!"
MEMBER_EMAIL = "sam@example.com"
MEMBER_PASSWORD = "Team-player-7?"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # allauth's rate limits and used TOTP codes
    yield
    cache.clear()


def _link_in(mail, live_server, path_prefix: str) -> str:
    """The link in `mail` whose path starts with `path_prefix`, on the live server."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"\S+)", mail.body)
    assert match, f"no {path_prefix} link in: {mail.body}"
    return live_server.url + match.group(1)


def _submit(page) -> None:
    """Press the page's main submit button (2FA pages also carry a "Cancel" one)."""
    page.locator("main form button[type=submit]").first.click()


def _sign_up_and_verify(page, live_server, mailoutbox, email: str, password: str, *, next_url: str = "") -> None:
    page.goto(live_server.url + "/accounts/signup/" + (f"?next={next_url}" if next_url else ""))
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", password)
    page.fill("input[name=password2]", password)
    _submit(page)
    page.wait_for_url("**/accounts/confirm-email/")
    assert "Verify" in page.inner_text("main")

    mail = next(m for m in reversed(mailoutbox) if email in m.to)
    page.goto(_link_in(mail, live_server, "/accounts/confirm-email/"))
    _submit(page)  # confirming takes a POST: a link scanner's GET confirms nothing


def _log_in(page, live_server, email: str, password: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    _submit(page)


def _totp_code(secret: str) -> str:
    counter = int(time.time()) // mfa_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))


def test_a_new_customer_signs_up_secures_the_account_and_builds_a_team(
    page, browser, live_server, mailoutbox, offsite_requests
):
    # Sign up and verify the address from the captured email.
    _sign_up_and_verify(page, live_server, mailoutbox, OWNER_EMAIL, OWNER_PASSWORD)
    page.wait_for_url("**/onboarding/")
    owner = User.objects.get(email=OWNER_EMAIL)
    assert owner.emailaddress_set.get().verified is True

    # Log out and back in with the password.
    page.context.clear_cookies()
    _log_in(page, live_server, OWNER_EMAIL, OWNER_PASSWORD)
    page.wait_for_url("**/onboarding/")

    # Turn on two-factor: password again, then a code from the secret the page shows.
    page.goto(live_server.url + "/accounts/2fa/totp/activate/")
    page.wait_for_url("**/accounts/reauthenticate/**")
    page.fill("input[name=password]", OWNER_PASSWORD)
    _submit(page)
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    secret = page.input_value("#authenticator_secret")
    page.fill("input[name=code]", _totp_code(secret))
    _submit(page)
    page.wait_for_url("**/accounts/2fa/recovery-codes/**")
    assert Authenticator.objects.filter(user=owner, type=Authenticator.Type.TOTP).exists()

    # The next login asks for the code.
    page.context.clear_cookies()
    cache.clear()  # the code just used may not be used twice; wait for a fresh one instead of sleeping
    _log_in(page, live_server, OWNER_EMAIL, OWNER_PASSWORD)
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.fill("input[name=code]", _totp_code(secret))
    _submit(page)
    page.wait_for_url("**/onboarding/")

    # First workspace: confirm the plan and name it.
    page.fill("input[name=name]", "Maya's Bakery")
    _submit(page)
    first = Workspace.objects.get(name="Maya's Bakery")
    page.wait_for_url(f"**/w/{first.slug}/onboarding/platforms/")

    # A second workspace, from the account menu's "New workspace".
    page.goto(live_server.url + "/workspaces/new/")
    page.fill("input[name=name]", "Maya's Catering")
    _submit(page)
    second = Workspace.objects.get(name="Maya's Catering")
    page.wait_for_url(f"**/w/{second.slug}/onboarding/**")
    assert Membership.objects.get(user=owner, workspace=second).role == "owner"

    # Invite a member to the second workspace.
    page.goto(live_server.url + f"/w/{second.slug}/members/")
    page.fill("input[name=email]", MEMBER_EMAIL)
    page.select_option("select[name=role]", "editor")
    page.locator("form:has(input[name=email]) button[type=submit]").click()
    page.wait_for_load_state()
    assert "Invitation sent" in page.inner_text("main")
    invitation_mail = next(m for m in reversed(mailoutbox) if MEMBER_EMAIL in m.to)
    invitation_url = _link_in(invitation_mail, live_server, "/invitations/")

    # The invitee, in a browser of their own: sign up, verify, accept.
    member_context = browser.new_context()
    member_page = member_context.new_page()
    member_page.goto(invitation_url)
    assert "Maya's Catering" in member_page.inner_text("main")
    _sign_up_and_verify(
        member_page,
        live_server,
        mailoutbox,
        MEMBER_EMAIL,
        MEMBER_PASSWORD,
        next_url=invitation_url.split(live_server.url)[1],
    )
    member_page.goto(invitation_url)
    member_page.get_by_role("button", name="Accept invitation").click()
    member_page.wait_for_url(f"**/w/{second.slug}/**")
    member = User.objects.get(email=MEMBER_EMAIL)
    assert Membership.objects.get(user=member, workspace=second).role == "editor"
    member_context.close()

    # The owner sees the new member, then finishes onboarding of the second workspace.
    page.goto(live_server.url + f"/w/{second.slug}/members/")
    assert MEMBER_EMAIL in page.inner_text("main")
    page.goto(live_server.url + f"/w/{second.slug}/onboarding/")
    page.wait_for_url(f"**/w/{second.slug}/onboarding/welcome/")
    _submit(page)  # confirm the plan
    page.wait_for_url(f"**/w/{second.slug}/onboarding/platforms/")
    page.get_by_role("button", name=re.compile("Skip for now")).click()
    page.wait_for_url(f"**/w/{second.slug}/onboarding/domains/")
    page.check("#domain-memes")
    page.check("#domain-tech")
    _submit(page)
    page.wait_for_url(f"**/w/{second.slug}/onboarding/automation/")
    page.fill("#id_mix_memes", "70")
    page.fill("#id_mix_tech", "30")
    page.get_by_role("button", name=re.compile("Complete setup")).click()
    page.wait_for_url(f"**/w/{second.slug}/")

    second.refresh_from_db()
    assert second.onboarding_step == "done"
    assert second.automation.content_mix == {"memes": 70, "tech": 30}
    assert second.automation.review_before_posting is True
    assert offsite_requests == []
