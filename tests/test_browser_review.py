"""Staff work the approval queue in Django Admin, in a real browser (Debian's chromium, headless).

A reviewer logs in to admin with two-factor, filters the queue to one workspace,
opens a post's preview, rejects it with a reason and bulk-approves two others;
then the author logs in on the site and sees each outcome on the post's page.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth.models import Permission
from django.core.cache import cache

from accounts.models import Membership
from content.models import Post
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAFF_EMAIL = "reviewer@letsgrow.test"
AUTHOR_EMAIL = "maya@example.com"
REASON = "The workshop date is wrong: it is on Saturday."


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # allauth's rate limits and used TOTP codes; the queue's cached filter options
    yield
    cache.clear()


def _verified(email: str, **kwargs):
    user = UserFactory(email=email, **kwargs)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def _submit(page) -> None:
    page.locator("main form button[type=submit], #content form [type=submit]").first.click()


@pytest.fixture
def queue():
    """Three posts of Maya's bakery waiting for review, and one of another workspace."""
    bakery = WorkspaceFactory(name="Maya's Bakery", slug="mayas-bakery", onboarding_step="done")
    author = _verified(AUTHOR_EMAIL, name="Maya Baker")
    Membership.objects.create(user=author, workspace=bakery, role=Membership.Role.EDITOR)
    MembershipFactory(workspace=bakery, role=Membership.Role.OWNER)
    other = WorkspaceFactory(name="Other Shop", slug="other-shop", onboarding_step="done")
    account = SocialAccountFactory(workspace=bakery, platform="x", handle="mayasbakery")
    now = datetime.now(tz=UTC)
    posts = {}
    for age, key, text in (
        (3, "reject", "Sourdough workshop on Sunday! Book now #bread"),
        (2, "first", "Fresh croissants every morning #bakery"),
        (1, "second", "Our summer menu is here #summer"),
    ):
        post = PostFactory(
            workspace=bakery,
            author=author,
            text=text,
            status=Post.Status.PENDING_REVIEW,
            submitted_at=now - timedelta(hours=age),
        )
        PostTargetFactory(post=post, social_account=account)
        posts[key] = post
    elsewhere = PostFactory(
        workspace=other, text="Other shop's post", status=Post.Status.PENDING_REVIEW, submitted_at=now
    )
    PostTargetFactory(post=elsewhere, social_account=SocialAccountFactory(workspace=other, platform="x"))
    posts["elsewhere"] = elsewhere
    return bakery, posts


@pytest.fixture
def reviewer():
    staff = _verified(STAFF_EMAIL, name="Rita Reviewer", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="approve_post", content_type__app_label="content"))
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    return staff, secret


def test_a_reviewer_rejects_and_bulk_approves_and_the_author_sees_the_outcome(
    page, browser, live_server, queue, reviewer, offsite_requests
):
    bakery, posts = queue
    _, secret = reviewer

    # Admin sends staff to log in through allauth, with the code from their authenticator app.
    page.goto(live_server.url + "/admin/content/pendingreviewpost/")
    page.wait_for_url("**/accounts/login/**")
    page.fill("input[name=login]", STAFF_EMAIL)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    _submit(page)
    page.wait_for_url("**/accounts/2fa/authenticate/**")
    page.fill("input[name=code]", _totp_code(secret))
    _submit(page)
    page.wait_for_url("**/admin/content/pendingreviewpost/")
    assert "Other shop's post" in page.inner_text("#result_list")

    # Filter the queue to the bakery, from the sidebar.
    page.locator("#changelist-filter").get_by_role("link", name="Maya's Bakery (mayas-bakery): 3").click()
    page.wait_for_url(f"**/admin/content/pendingreviewpost/?workspace={bakery.pk}")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 3
    assert "Other shop's post" not in page.inner_text("#result_list")
    assert rows.first.locator(".field-summary").inner_text().startswith("Sourdough workshop")  # oldest first

    # Open the oldest: the preview shows the text as X will, with X's count and limit.
    page.get_by_role("link", name="Sourdough workshop on Sunday! Book now #bread").click()
    page.wait_for_selector("[data-testid=preview-x]")
    preview = page.locator("[data-testid=preview-x]")
    assert "Sourdough workshop on Sunday! Book now #bread" in preview.locator("[data-testid=preview-text]").inner_text()
    assert preview.locator("[data-testid=count]").inner_text() == "45 / 280"

    # Reject it, saying why: back to the filtered queue, which no longer lists it.
    page.locator("[data-testid=reject-form] textarea[name=reason]").fill(REASON)
    page.locator("[data-testid=reject-form] button[type=submit]").click()
    page.wait_for_url(f"**/admin/content/pendingreviewpost/?workspace={bakery.pk}")
    assert "rejected; the author sees the reason." in page.inner_text(".messagelist")
    assert page.locator("#result_list tbody tr").count() == 2

    # Bulk-approve the other two.
    for key in ("first", "second"):
        page.check(f"input[name=_selected_action][value='{posts[key].pk}']")
    page.select_option("select[name=action]", "approve_selected")
    page.locator("button[name=index]").first.click()
    page.wait_for_load_state()
    assert "2 approved." in page.inner_text(".messagelist")

    for post in posts.values():
        post.refresh_from_db()
    assert posts["reject"].status == Post.Status.REJECTED
    assert (posts["first"].status, posts["second"].status) == (Post.Status.APPROVED, Post.Status.APPROVED)
    assert posts["elsewhere"].status == Post.Status.PENDING_REVIEW

    # The author, in a browser of their own, sees each outcome on the site.
    author_context = browser.new_context()
    author_page = author_context.new_page()
    author_page.goto(live_server.url + "/accounts/login/")
    author_page.fill("input[name=login]", AUTHOR_EMAIL)
    author_page.fill("input[name=password]", DEFAULT_PASSWORD)
    _submit(author_page)
    author_page.wait_for_load_state()

    author_page.goto(live_server.url + f"/w/{bakery.slug}/posts/{posts['reject'].pk}/")
    assert author_page.inner_text("[data-testid=post-status]") == "Rejected"
    assert REASON in author_page.inner_text("[data-testid=events]")
    for key in ("first", "second"):
        author_page.goto(live_server.url + f"/w/{bakery.slug}/posts/{posts[key].pk}/")
        assert author_page.inner_text("[data-testid=post-status]") == "Approved"
    author_context.close()
    assert offsite_requests == []
