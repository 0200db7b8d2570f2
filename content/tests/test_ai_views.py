"""The AI pages: generate, regenerate, variations, proofread, save as draft, submit; the AI settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership
from content.models import AISettings, ContentDomain, Post
from content.tests.conftest import PRIMARY_MODEL
from publishing.models import PostTarget
from publishing.tests.factories import SocialAccountFactory
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    workspace = WorkspaceFactory(name="Cafe")
    editor = UserFactory()
    MembershipFactory(user=editor, workspace=workspace, role=Membership.Role.EDITOR)
    ContentDomain.objects.create(workspace=workspace, key="tech", name="Technology", tone="Informative")
    x = SocialAccountFactory(workspace=workspace, platform="x", handle="cafe_x")
    bluesky = SocialAccountFactory(workspace=workspace, platform="bluesky", handle="cafe.bsky.social")
    return workspace, editor, x, bluesky


def _url(workspace, name="generate"):
    return reverse(f"content_ai:{name}", kwargs={"workspace_slug": workspace.slug})


def _controls(**changes):
    data = {
        "action": "generate",
        "domain": "tech",
        "platforms": ["x", "bluesky"],
        "prompt": "Why we switched our espresso machine to solar power",
        "creativity": "0.7",
        "hashtags": "on",
        "emojis": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def _result_data(response, action="save_draft", accounts=()):
    """What the result card's form posts back: its hidden fields, the action, the chosen accounts."""
    card = response.context["cards"][0]
    data = {key: value for key, value in card.form.initial.items() if value not in (None, "")}
    data["action"] = action
    data["accounts"] = [str(pk) for pk in accounts]
    return data


def test_the_page_shows_the_controls(client, setup, llm_settings):
    workspace, editor, _x, _bluesky = setup
    client.force_login(editor)

    response = client.get(_url(workspace))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="creativity"' in html and 'type="range"' in html
    assert 'value="x"' in html and 'value="bluesky"' in html
    assert f"Model: {PRIMARY_MODEL}" in html
    assert "AI tokens this month: 0 of 50,000" in html


def test_without_accounts_it_says_to_connect_one(client, llm_settings):
    workspace = WorkspaceFactory()
    editor = UserFactory()
    MembershipFactory(user=editor, workspace=workspace, role=Membership.Role.EDITOR)
    client.force_login(editor)

    response = client.get(_url(workspace))

    assert response.status_code == 200
    assert "connect an account" in response.content.decode()


def test_generate_shows_each_platforms_variant_with_its_length_and_the_score(client, setup, llm_settings, llm_stub):
    workspace, editor, _x, _bluesky = setup
    client.force_login(editor)

    response = client.post(_url(workspace), _controls())

    assert response.status_code == 200
    html = response.content.decode()
    card = response.context["cards"][0]
    assert card.post.source == "ai"
    assert f"AI: {PRIMARY_MODEL}" in html
    assert [row.slug for row in card.variants] == ["x", "bluesky"]
    assert all(row.fits and row.length <= row.limit for row in card.variants)
    assert " / 280" in html and " / 300" in html
    assert "Estimated performance:" in html and "an estimate, not a promise" in html
    assert "Based on general rules, not your own results yet." in html
    assert "espresso" in card.post.content.lower()
    assert len(llm_stub.completions()) == 1


def test_regenerate_and_variations(client, setup, llm_settings, llm_stub):
    workspace, editor, _x, _bluesky = setup
    client.force_login(editor)
    first = client.post(_url(workspace), _controls())

    again = client.post(_url(workspace), _controls(action="regenerate", attempt="0"))
    three = client.post(_url(workspace), _controls(action="variations"))

    assert again.status_code == 200
    assert again.context["form"]["attempt"].value() == "1"
    assert again.context["cards"][0].post.content != first.context["cards"][0].post.content
    assert three.status_code == 200
    assert len(three.context["cards"]) == 3


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"platforms": None}, "platforms", "Choose at least one platform to write for."),
        (
            {"platforms": ["linkedin"]},
            "platforms",
            "Select a valid choice. linkedin is not one of the available choices.",
        ),
        ({"creativity": "5"}, "creativity", "Creativity goes from 0 to 2."),
        ({"creativity": "lots"}, "creativity", "Creativity is a number from 0 to 2."),
        ({"domain": "finance"}, "domain", "Select a valid choice. finance is not one of the available choices."),
        ({"prompt": "p" * 2001}, "prompt", "Ensure this value has at most 2000 characters (it has 2001)."),
    ],
)
def test_bad_controls_get_clear_errors_not_a_500(client, setup, llm_settings, llm_stub, changes, field, message):
    workspace, editor, _x, _bluesky = setup
    client.force_login(editor)

    response = client.post(_url(workspace), _controls(**changes))

    assert response.status_code == 400
    assert message in response.context["form"].errors[field]
    assert llm_stub.completions() == []


def test_an_unknown_action_is_refused(client, setup, llm_settings):
    workspace, editor, _x, _bluesky = setup
    client.force_login(editor)

    response = client.post(_url(workspace), _controls(action="explode"))

    assert response.status_code == 400
    assert "Use the buttons on the page" in response.content.decode()


def test_when_the_model_fails_the_page_says_so_and_offers_the_offline_result(client, setup, llm_settings, llm_stub):
    workspace, editor, _x, _bluesky = setup
    llm_stub.set_default("server_error")
    client.force_login(editor)

    response = client.post(_url(workspace), _controls())

    assert response.status_code == 200
    html = response.content.decode()
    assert "The AI model did not answer (server error)" in html
    assert "Generated offline from templates — the AI model did not answer" in html
    assert response.context["cards"][0].post.source == "offline"


def test_offline_mode_is_clearly_labelled(client, setup, no_llm):
    workspace, editor, _x, _bluesky = setup
    client.force_login(editor)

    page = client.get(_url(workspace))
    response = client.post(_url(workspace), _controls())

    assert "Generated offline from templates — no AI model is configured." in page.content.decode()
    assert response.status_code == 200
    assert "Generated offline from templates — no AI model is configured" in response.content.decode()
    assert response.context["cards"][0].post.model_label.startswith("Offline")


def test_a_used_up_budget_is_explained(client, setup, llm_settings, llm_stub):
    from content.ai.usage import record_usage

    workspace, editor, _x, _bluesky = setup
    record_usage(workspace=workspace, prompt_tokens=50_000, completion_tokens=0)
    client.force_login(editor)

    response = client.post(_url(workspace), _controls())

    assert response.status_code == 400
    assert "used all 50,000 AI tokens" in response.content.decode()
    assert llm_stub.completions() == []


def test_save_as_draft_creates_an_ai_post_with_its_generation_record(client, setup, llm_settings, llm_stub):
    workspace, editor, x, bluesky = setup
    client.force_login(editor)
    generated = client.post(_url(workspace), _controls())
    card = generated.context["cards"][0]

    response = client.post(_url(workspace), _result_data(generated, accounts=[x.pk, bluesky.pk]))

    post = Post.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response.url == reverse("publishing:post_detail", kwargs={"workspace_slug": workspace.slug, "pk": post.pk})
    assert post.status == Post.Status.DRAFT
    assert post.source == Post.Source.AI
    assert post.author == editor
    assert post.domain.key == "tech"
    assert post.generation["model"] == card.post.model_label
    assert post.generation["prompt"] == "Why we switched our espresso machine to solar power"
    assert post.generation["source"] == "ai"
    assert post.generation["usage"]["prompt_tokens"] > 0
    assert 1 <= post.performance_score <= 100
    assert post.score_reasons[0] == "Based on general rules, not your own results yet."
    targets = {t.social_account_id: t.text for t in PostTarget.objects.filter(post=post)}
    assert targets == {x.pk: card.post.variants["x"], bluesky.pk: card.post.variants["bluesky"]}


def test_submit_for_approval_puts_it_in_review(client, setup, llm_settings, llm_stub):
    workspace, editor, x, _bluesky = setup
    client.force_login(editor)
    generated = client.post(_url(workspace), _controls())

    response = client.post(_url(workspace), _result_data(generated, action="submit", accounts=[x.pk]))

    post = Post.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert post.status == Post.Status.PENDING_REVIEW
    assert list(post.targets.values_list("social_account_id", flat=True)) == [x.pk]


def test_saving_checks_the_posted_back_result_again(client, setup, llm_settings, llm_stub):
    workspace, editor, x, _bluesky = setup
    foreign = SocialAccountFactory(workspace=WorkspaceFactory(), platform="x")
    client.force_login(editor)
    generated = client.post(_url(workspace), _controls())

    too_long = _result_data(generated, accounts=[x.pk])
    too_long["variant_x"] = "word " * 100
    not_mine = _result_data(generated, accounts=[foreign.pk])
    broken = _result_data(generated, accounts=[x.pk])
    broken["generation"] = "{not json"
    no_accounts = _result_data(generated, accounts=[])

    responses = [client.post(_url(workspace), data) for data in (too_long, not_mine, broken, no_accounts)]

    assert [r.status_code for r in responses] == [400, 400, 400, 400]
    assert "the limit is 280" in responses[0].content.decode()
    assert "Select a valid choice" in responses[1].content.decode()
    assert "could not be read" in responses[2].content.decode()
    assert "Choose at least one account to post to." in responses[3].content.decode()
    assert not Post.objects.exists()


def test_a_tampered_score_is_not_trusted(client, setup, llm_settings, llm_stub):
    workspace, editor, x, _bluesky = setup
    client.force_login(editor)
    generated = client.post(_url(workspace), _controls())
    data = _result_data(generated, accounts=[x.pk])
    data["score"] = "100"

    client.post(_url(workspace), data)

    post = Post.objects.get(workspace=workspace)
    assert post.performance_score == generated.context["cards"][0].post.score


def test_proofread_shows_the_changes(client, setup, llm_settings, llm_stub):
    workspace, editor, x, _bluesky = setup
    client.force_login(editor)
    generated = client.post(_url(workspace), _controls())
    data = _result_data(generated, action="proofread", accounts=[x.pk])
    data["content"] = "teh best espresso  in town ."
    data["variant_x"] = "teh best espresso  in town .\n\n#espresso"

    response = client.post(_url(workspace), data)

    assert response.status_code == 200
    card = response.context["cards"][0]
    assert card.post.content == "The best espresso in town."
    assert card.post.variants["x"] == "The best espresso in town.\n\n#espresso"
    assert "Corrected “teh” to “the”." in response.content.decode()


def test_a_viewer_cannot_generate_or_save(client, setup, llm_settings, llm_stub):
    workspace, _editor, x, _bluesky = setup
    viewer = UserFactory()
    MembershipFactory(user=viewer, workspace=workspace, role=Membership.Role.VIEWER)
    client.force_login(viewer)

    page = client.get(_url(workspace))
    generate = client.post(_url(workspace), _controls())
    save = client.post(
        _url(workspace),
        {"action": "save_draft", "content": "Hi", "source": "ai", "variant_x": "Hi", "accounts": [x.pk]},
    )

    assert (page.status_code, generate.status_code, save.status_code) == (403, 403, 403)
    assert llm_stub.completions() == []
    assert not Post.objects.exists()


def test_another_workspace_is_404(client, setup, llm_settings):
    _workspace, editor, _x, _bluesky = setup
    other = WorkspaceFactory()
    client.force_login(editor)

    assert client.get(_url(other)).status_code == 404
    assert client.post(_url(other), _controls()).status_code == 404


# --------------------------------------------------------------------------- settings


@pytest.fixture
def owner_setup(llm_settings):
    llm_settings.LLM_ALLOW_PRIVATE_BASE_URLS = True  # the stub is on 127.0.0.1
    workspace = WorkspaceFactory()
    owner = UserFactory()
    MembershipFactory(user=owner, workspace=workspace, role=Membership.Role.OWNER)
    return workspace, owner


def _settings_data(**changes):
    data = {
        "action": "save",
        "base_url": "",
        "model": "",
        "api_key": "",
        "fallback_base_url": "",
        "fallback_model": "",
        "fallback_api_key": "",
        "brand_voice": "",
    }
    data.update(changes)
    return data


def test_the_key_is_stored_encrypted_and_never_shown(client, owner_setup, llm_stub):
    workspace, owner = owner_setup
    client.force_login(owner)

    saved = client.post(
        _url(workspace, "settings"),
        _settings_data(base_url=llm_stub.base_url, model="byo-model", api_key="sk-live-abc123", brand_voice="Friendly"),
    )
    page = client.get(_url(workspace, "settings"))

    assert saved.status_code == 302
    row = AISettings.objects.get(workspace=workspace)
    assert row.api_key == "sk-live-abc123"
    assert row.brand_voice == "Friendly"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM content_aisettings WHERE id = %s", [row.pk])
        assert "sk-live-abc123" not in cursor.fetchone()[0]
    html = page.content.decode()
    assert "sk-live-abc123" not in html
    assert "•••• set" in html
    assert "byo-model" in html


def test_a_blank_key_keeps_the_stored_one_and_clear_removes_it(client, owner_setup, llm_stub):
    workspace, owner = owner_setup
    AISettings.objects.create(workspace=workspace, base_url=llm_stub.base_url, model="m", api_key="sk-keep")
    client.force_login(owner)

    client.post(_url(workspace, "settings"), _settings_data(base_url=llm_stub.base_url, model="m2"))
    kept = AISettings.objects.get(workspace=workspace)
    client.post(_url(workspace, "settings"), _settings_data(base_url=llm_stub.base_url, model="m2", clear_api_key="on"))
    cleared = AISettings.objects.get(workspace=workspace)

    assert (kept.model, kept.api_key) == ("m2", "sk-keep")
    assert cleared.api_key == ""


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"base_url": "ftp://models.example.com/v1", "model": "m"}, "base_url", "must start with https:// or http://"),
        ({"base_url": "not a url", "model": "m"}, "base_url", "must start with https:// or http://"),
        ({"base_url": "https://api.example.com/v1"}, "model", "Name the model"),
        ({"model": "gpt-4o-mini"}, "base_url", "Give the base URL"),
        ({"base_url": "https://api.example.com/v1?key=1", "model": "m"}, "base_url", "no ?query"),
    ],
)
def test_bad_settings_are_refused_clearly(client, owner_setup, changes, field, message):
    workspace, owner = owner_setup
    client.force_login(owner)

    response = client.post(_url(workspace, "settings"), _settings_data(**changes))

    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    assert not AISettings.objects.filter(workspace=workspace).exists()


def test_private_addresses_are_refused_unless_the_server_allows_them(client, owner_setup, llm_settings):
    workspace, owner = owner_setup
    llm_settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    client.force_login(owner)

    response = client.post(_url(workspace, "settings"), _settings_data(base_url="http://10.0.0.5:11434/v1", model="m"))

    assert response.status_code == 400
    assert "10.0.0.5 is not a public server" in response.content.decode()


def test_test_connection_reports_success_and_failure_without_saving(client, owner_setup, llm_stub):
    workspace, owner = owner_setup
    client.force_login(owner)
    data = _settings_data(action="test", base_url=llm_stub.base_url, model="byo-model", api_key="sk-test")

    ok = client.post(_url(workspace, "settings"), data)
    llm_stub.require_api_key("another-key")
    refused = client.post(_url(workspace, "settings"), data)

    assert ok.status_code == 200
    assert "Connected: byo-model" in ok.content.decode()
    assert refused.status_code == 400
    assert "The test call failed." in refused.content.decode()
    assert "API key was refused (401)" in refused.content.decode()
    assert "sk-test" not in refused.content.decode()
    assert not AISettings.objects.filter(workspace=workspace).exists()
    assert llm_stub.completions()[0].authorization == "Bearer sk-test"


def test_only_owners_and_admins_see_the_settings(client, owner_setup):
    workspace, _owner = owner_setup
    editor = UserFactory()
    MembershipFactory(user=editor, workspace=workspace, role=Membership.Role.EDITOR)
    client.force_login(editor)

    assert client.get(_url(workspace, "settings")).status_code == 403
    assert client.post(_url(workspace, "settings"), _settings_data(brand_voice="x")).status_code == 403
    assert not AISettings.objects.filter(workspace=workspace).exists()
