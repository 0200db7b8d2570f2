"""The composer's live check (publishing:post_validate): each platform's own count, issues, and bad input → 400."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from content.models import Template
from content.tests.test_composer_services import make_asset
from publishing.tests.factories import SocialAccountFactory
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

LONG_URL = "https://example.com/a/very/long/path/that/is/much/longer/than/twenty/three/characters"


@pytest.fixture
def workspace():
    return WorkspaceFactory(slug="acme")


@pytest.fixture
def editor(workspace):
    return MembershipFactory(workspace=workspace, role="editor").user


@pytest.fixture
def client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def x(workspace):
    return SocialAccountFactory(workspace=workspace, platform="x", handle="acme")


@pytest.fixture
def bluesky(workspace):
    return SocialAccountFactory(workspace=workspace, platform="bluesky", handle="acme.bsky.social")


def _url(workspace):
    return reverse("publishing:post_validate", kwargs={"workspace_slug": workspace.slug})


def _check(client, workspace, **data):
    """POST form data as the composer sends it; return (status, JSON)."""
    response = client.post(_url(workspace), data)
    return response.status_code, response.json()


def _by_platform(answer):
    return {result["platform"]: result for result in answer["results"]}


# --------------------------------------------------------------------------- counting as each platform counts


def test_x_counts_a_url_as_23_whatever_its_length(client, workspace, x):
    status, answer = _check(client, workspace, text=f"Read this {LONG_URL}", accounts=[x.pk])

    assert status == 200
    [result] = answer["results"]
    assert (result["account_id"], result["platform"], result["length"], result["max_length"]) == (x.pk, "x", 33, 280)
    assert result["issues"] == []
    assert (answer["blocking"], answer["warnings"]) == (False, False)
    assert (result["text_shown"], result["text_cut"]) == (f"Read this {LONG_URL}", "")


def test_the_link_counts_where_the_platform_appends_it(client, workspace, x):
    _, answer = _check(client, workspace, text="Hi", link=LONG_URL, accounts=[x.pk])

    # "Hi", a new line, and the link at 23.
    assert answer["results"][0]["length"] == 26


def test_bluesky_counts_graphemes_and_x_weighs_emoji(client, workspace, x, bluesky):
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme of five code points

    _, answer = _check(client, workspace, text=f"{family} family", accounts=[x.pk, bluesky.pk])

    results = _by_platform(answer)
    assert (results["bluesky"]["length"], results["bluesky"]["max_length"]) == (8, 300)
    assert (results["x"]["length"], results["x"]["max_length"]) == (9, 280)


def test_over_the_limit_is_a_blocking_issue_and_shows_where_the_text_is_cut(client, workspace, x):
    _, answer = _check(client, workspace, text="a" * 290, accounts=[x.pk])

    [result] = answer["results"]
    assert result["length"] == 290
    assert result["issues"] == [
        {
            "field": "text",
            "message": "X counts this post as 290 characters; the limit is 280. "
            "Every link counts 23, and emoji and CJK characters count 2.",
            "blocking": True,
        }
    ]
    assert (result["text_shown"], result["text_cut"]) == ("a" * 280, "a" * 10)
    assert answer["blocking"] is True


def test_the_cut_counts_emoji_as_x_does(client, workspace, x):
    _, answer = _check(client, workspace, text="🙂" * 141, accounts=[x.pk])

    [result] = answer["results"]
    assert result["length"] == 282
    assert (result["text_shown"], result["text_cut"]) == ("🙂" * 140, "🙂")


def test_each_account_is_checked_with_its_own_text_and_link(client, workspace, x, bluesky):
    _, answer = _check(
        client,
        workspace,
        text="a" * 290,
        accounts=[x.pk, bluesky.pk],
        **{f"variant_{x.pk}": "Short for X", f"link_{bluesky.pk}": "not a link"},
    )

    results = _by_platform(answer)
    assert (results["x"]["length"], results["x"]["issues"]) == (11, [])
    assert results["bluesky"]["issues"] == [
        {"field": "link", "message": "The link must be a full web address starting with https://.", "blocking": True}
    ]


def test_variants_of_accounts_that_are_not_chosen_are_ignored(client, workspace, x, bluesky):
    _, answer = _check(client, workspace, text="Hello", accounts=[x.pk], **{f"variant_{bluesky.pk}": "b" * 500})

    assert [result["platform"] for result in answer["results"]] == ["x"]


def test_media_are_checked_per_platform_and_warnings_do_not_block(client, workspace, x, bluesky):
    images = [make_asset(workspace, f"{n}.jpg", alt_text="") for n in range(2)]

    _, answer = _check(client, workspace, text="Look", accounts=[x.pk, bluesky.pk], media=[i.pk for i in images])

    results = _by_platform(answer)
    assert results["x"]["issues"] == []
    assert results["bluesky"]["issues"] == [
        {
            "field": "media",
            "message": f"Image {n} has no alt text; people using screen readers will miss it.",
            "blocking": False,
        }
        for n in (1, 2)
    ]
    assert (answer["blocking"], answer["warnings"]) == (False, True)


def test_too_many_images_for_x_block_only_x(client, workspace, x, bluesky):
    images = [make_asset(workspace, f"{n}.jpg") for n in range(5)]

    _, answer = _check(
        client,
        workspace,
        text="Look",
        accounts=[x.pk, bluesky.pk],
        media=[image.pk for image in images],
        **{f"media_{bluesky.pk}": [images[0].pk]},
    )

    results = _by_platform(answer)
    assert results["x"]["issues"] == [
        {"field": "media", "message": "X takes at most 4 images per post; this has 5.", "blocking": True}
    ]
    assert results["bluesky"]["issues"] == []


def test_a_template_variable_left_in_the_text_is_a_warning(client, workspace, x):
    template = Template.objects.create(workspace=workspace, name="Launch", body="Meet {product}: {link}")

    _, answer = _check(
        client, workspace, text="Meet {product}: https://a.example", accounts=[x.pk], template_id=template.pk
    )

    assert answer["results"][0]["issues"] == [
        {"field": "text", "message": "Fill in {product}: still a template variable.", "blocking": False}
    ]


def test_an_account_that_needs_reconnecting_blocks(client, workspace):
    account = SocialAccountFactory(workspace=workspace, platform="x", handle="old", status="reconnect_needed")

    _, answer = _check(client, workspace, text="Hello", accounts=[account.pk])

    assert answer["results"][0]["issues"][0] == {
        "field": "account",
        "message": "Reconnect X · old before posting to it.",
        "blocking": True,
    }
    assert answer["blocking"] is True


def test_no_account_chosen_answers_no_results(client, workspace):
    assert _check(client, workspace, text="Hello") == (200, {"results": [], "blocking": False, "warnings": False})


def test_json_is_accepted_too(client, workspace, x, bluesky):
    body = {"text": "a" * 290, "accounts": [x.pk, bluesky.pk], "variants": {str(x.pk): "Short"}, "link": ""}

    response = client.post(_url(workspace), json.dumps(body), content_type="application/json")

    results = _by_platform(response.json())
    assert (results["x"]["length"], results["bluesky"]["length"]) == (5, 290)


# --------------------------------------------------------------------------- bad input: 400 with a message, never 500


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "The request is not valid JSON."),
        ("[1, 2]", "Send a JSON object with text and accounts."),
        ('{"text": 5, "accounts": []}', "“text” must be a string."),
        ('{"text": "Hi", "accounts": "1"}', "“accounts” must be a list of account ids."),
        ('{"text": "Hi", "accounts": [{"id": 1}]}', "Choose the accounts from the list."),
        ('{"text": "Hi", "accounts": [], "variants": {"1": 5}}', "Each of “variants” must be a string."),
        (
            '{"text": "Hi", "accounts": [], "target_media": {"1": 5}}',
            "Each of “target_media” must be a list of media ids.",
        ),
        ('{"text": "Hi", "accounts": [], "media": ["x"]}', "Choose the media files from the list."),
        ('{"text": "Hi", "accounts": [], "template_id": "nope"}', "Choose the template from the list."),
    ],
)
def test_bad_json_answers_400_with_a_clear_message(client, workspace, body, message):
    response = client.post(_url(workspace), body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": message}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"accounts": ["abc"]}, "Choose the accounts from the list."),
        ({"accounts": ["0"]}, "Choose the accounts from the list."),
        ({"accounts": ["99999999"]}, "One of the chosen accounts is not connected to this workspace."),
        ({"media": ["1.5"]}, "Choose the media files from the list."),
        ({"template_id": "99999999"}, "That template is not in this workspace."),
        ({"text": "a" * 20001}, "The text must be at most 20000 characters to be checked."),
    ],
)
def test_bad_form_data_answers_400_with_a_clear_message(client, workspace, data, message):
    status, answer = _check(client, workspace, **{"text": "Hello", **data})

    assert (status, answer) == (400, {"error": message})


def test_another_workspaces_account_or_file_is_refused(client, workspace, x):
    other = WorkspaceFactory()
    theirs = SocialAccountFactory(workspace=other, platform="x")
    their_file = make_asset(other, "theirs.jpg")

    assert _check(client, workspace, text="Hi", accounts=[theirs.pk])[0] == 400
    status, answer = _check(client, workspace, text="Hi", accounts=[x.pk], media=[their_file.pk])
    assert (status, answer) == (
        400,
        {"error": "One of the chosen media files is not in this workspace's library. Choose files from the library."},
    )


def test_get_is_not_allowed(client, workspace):
    assert client.get(_url(workspace)).status_code == 405


@pytest.mark.parametrize("role", ["viewer", "approver"])
def test_members_who_cannot_write_cannot_check(client, workspace, x, role):
    client.force_login(MembershipFactory(workspace=workspace, role=role).user)

    assert client.post(_url(workspace), {"text": "Hi", "accounts": [x.pk]}).status_code == 403


def test_the_check_is_csrf_protected(workspace, editor, x):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)

    assert strict.post(_url(workspace), {"text": "Hi", "accounts": [x.pk]}).status_code == 403
