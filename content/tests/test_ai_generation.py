"""Generating posts: structured output, per-platform variants within limits, context, offline, proofread, key points."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from billing.models import Subscription
from content.ai.base import PlatformChecker, fit
from content.ai.client import AIUnavailable
from content.ai.generation import (
    GenerationRequest,
    generate_post,
    proofread,
    summarise_key_points,
    variations,
)
from content.ai.offline import OFFLINE_LABEL, fill_template, generate_offline, key_points_offline
from content.models import AISettings, ContentDomain, Document, Template, TokenUsage
from content.tests.conftest import FALLBACK_MODEL, PRIMARY_MODEL
from publishing.platforms import provider_for
from publishing.providers.base import Variant
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    workspace = WorkspaceFactory(name="Green Leaf Cafe")
    ContentDomain.objects.create(
        workspace=workspace,
        key="business",
        name="Business & Entrepreneurship",
        description="Business tips, startup advice.",
        audience="Small business owners",
        tone="Professional",
        sample_posts=["📈 5 proven ways to grow a small business without a big budget. #smallbusiness #growth"],
    )
    return workspace


def _request(workspace, **kwargs) -> GenerationRequest:
    params = {
        "workspace": workspace,
        "domain_key": "business",
        "platforms": ["x", "bluesky", "linkedin"],
        "prompt": "Our new oat milk latte and the local farmers who grow the oats",
    }
    params.update(kwargs)
    return GenerationRequest(**params)


def _assert_every_variant_passes(post) -> None:
    for slug, text in post.variants.items():
        result = provider_for(slug).validate(Variant(text=text))
        blocking = [issue.message for issue in result.issues if issue.is_blocking]
        assert blocking == [], f"{slug}: {blocking}"
        assert result.length <= result.max_length


def test_a_post_with_a_variant_per_platform_a_score_and_its_record(llm_settings, llm_stub, workspace):
    AISettings.objects.create(workspace=workspace, brand_voice="Warm, local, never salesy.")

    post = generate_post(_request(workspace, temperature=0.9))

    assert post.source == "ai"
    assert post.model_label == f"{PRIMARY_MODEL} (127.0.0.1:{llm_stub.base_url.split(':')[2].split('/')[0]})"
    assert "oat" in post.content.lower()
    assert post.hashtags and all(not tag.startswith("#") for tag in post.hashtags)
    assert set(post.variants) == {"x", "bluesky", "linkedin"}
    _assert_every_variant_passes(post)
    assert post.variants["x"].endswith(" ".join(f"#{tag}" for tag in post.hashtags[:2]))
    assert 1 <= post.score <= 100
    assert post.score_basis == "rules"
    assert post.score_reasons[0] == "Based on general rules, not your own results yet."
    assert post.prompt_tokens > 0 and post.completion_tokens > 0
    assert post.failures == []
    record = post.generation_record
    assert record["prompt"] == "Our new oat milk latte and the local farmers who grow the oats"
    assert record["model"] == post.model_label
    assert record["domain"] == "business"
    assert record["temperature"] == 0.9
    assert record["controls"] == {"hashtags": True, "emojis": True, "platforms": ["x", "bluesky", "linkedin"]}
    assert record["usage"] == {"prompt_tokens": post.prompt_tokens, "completion_tokens": post.completion_tokens}
    assert "Professional tone" in record["system_prompt"]
    assert record["created_at"]
    [request] = llm_stub.completions()
    system = request.body["messages"][0]["content"]
    assert "Warm, local, never salesy." in system
    assert "Audience: Small business owners." in system
    assert "X (at most 280 characters)" in system
    assert request.body["temperature"] == 0.9


def test_the_fallback_model_is_used_when_the_primary_fails(llm_settings, llm_stub, workspace):
    llm_stub.script("server_error", model=PRIMARY_MODEL)

    post = generate_post(_request(workspace))

    assert post.model_label.startswith(FALLBACK_MODEL)
    assert "server error (500)" in post.failures[0]
    assert post.generation_record["failures"] == post.failures


def test_everything_failing_raises_ai_unavailable(llm_settings, llm_stub, workspace):
    llm_stub.set_default("server_error")

    with pytest.raises(AIUnavailable) as caught:
        generate_post(_request(workspace))

    assert "did not answer (server error)" in caught.value.message
    # The page then offers the offline result, which says what happened.
    offline = generate_offline(_request(workspace), failures=caught.value.failures)
    assert offline.source == "offline"
    assert offline.failures == caught.value.failures


def test_an_overlong_answer_is_asked_again_shorter_for_the_platforms_it_does_not_fit(llm_settings, llm_stub, workspace):
    llm_stub.script("overlong", length=1200)

    post = generate_post(_request(workspace))

    _assert_every_variant_passes(post)
    # X (280) and Bluesky (300) needed a shorter version; LinkedIn (3000) took it as it was.
    assert sorted(post.generation_record["reasked_for"]) == ["bluesky", "x"]
    assert len(llm_stub.completions()) == 3
    reask = llm_stub.completions()[1].body["messages"][1]["content"]
    assert "at most" in reask and "<<<" in reask
    assert len(post.variants["linkedin"]) > 1200
    assert not post.variants["x"].endswith("…")


def test_a_model_that_stays_overlong_is_trimmed_at_a_word_boundary(llm_settings, llm_stub, workspace):
    llm_stub.set_default("overlong", length=2000)

    post = generate_post(_request(workspace, platforms=["x", "bluesky"]))

    _assert_every_variant_passes(post)
    for slug in ("x", "bluesky"):
        body = post.variants[slug].split("\n\n#")[0]
        assert body.endswith("…")
        assert body[:-1] == body[:-1].rstrip()  # cut between words, not inside one
    assert any("trimmed" in note for note in post.notes)


def test_hashtags_and_emojis_off(llm_settings, llm_stub, workspace):
    post = generate_post(_request(workspace, hashtags=False, emojis=False))

    assert post.hashtags == []
    assert all("#" not in text for text in post.variants.values())
    assert all(ord(ch) < 0x2000 or ch == "…" for text in post.variants.values() for ch in text)
    system = llm_stub.completions()[0].body["messages"][0]["content"]
    assert "Do not use emojis." in system
    assert "Do not use hashtags" in system


def test_document_key_points_are_context_only_when_the_plan_allows(llm_settings, llm_stub, workspace):
    document = Document.objects.create(
        workspace=workspace,
        storage_name="a.pdf",
        original_name="Oat supplier notes.pdf",
        kind="pdf",
        size_bytes=10,
        status=Document.Status.READY,
        key_points=["Our oats come from three farms within 40 km."],
    )

    free = generate_post(_request(workspace, document_ids=(document.pk,)))
    Subscription.objects.create(workspace=workspace, plan="pro")
    pro = generate_post(_request(workspace, document_ids=(document.pk,)))

    assert any("not included in the Free plan" in note for note in free.notes)
    assert free.generation_record["documents"] == []
    assert "three farms" not in llm_stub.completions()[0].body["messages"][1]["content"]
    assert pro.generation_record["documents"] == [{"id": document.pk, "name": "Oat supplier notes.pdf"}]
    assert "three farms within 40 km" in llm_stub.completions()[1].body["messages"][1]["content"]


def test_another_workspaces_documents_are_not_used(llm_settings, llm_stub, workspace):
    Subscription.objects.create(workspace=workspace, plan="pro")
    foreign = Document.objects.create(
        workspace=WorkspaceFactory(),
        storage_name="b.pdf",
        original_name="Secret.pdf",
        kind="pdf",
        size_bytes=10,
        status=Document.Status.READY,
        key_points=["The other workspace's secret plan."],
    )

    post = generate_post(_request(workspace, document_ids=(foreign.pk,)))

    assert post.generation_record["documents"] == []
    assert "secret" not in llm_stub.completions()[0].body["messages"][1]["content"].lower()
    assert any("not used" in note for note in post.notes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"platforms": ["myspace"]}, "LetsGrow does not post to myspace."),
        ({"platforms": []}, "Choose at least one platform to write for."),
        ({"temperature": 2.5}, "Creativity goes from 0 (predictable) to 2 (adventurous)."),
        ({"domain_key": "finance"}, "Choose one of this workspace's content domains."),
        ({"prompt": "x" * 2001}, "Keep the prompt under 2000 characters (it has 2001)."),
        ({"template_id": 999_999}, "That template is not in this workspace."),
    ],
)
def test_bad_controls_are_refused_before_any_call(llm_settings, llm_stub, workspace, changes, message):
    with pytest.raises(ValidationError) as caught:
        generate_post(_request(workspace, **changes))

    assert message in caught.value.messages
    assert llm_stub.completions() == []


def test_a_used_up_budget_is_refused_with_its_message(llm_settings, llm_stub, workspace):
    from content.ai.usage import month_start

    TokenUsage.objects.create(workspace=workspace, month=month_start(), prompt_tokens=50_000)

    with pytest.raises(ValidationError, match="used all 50,000 AI tokens"):
        generate_post(_request(workspace))
    assert llm_stub.completions() == []


def test_variations_are_different_takes(llm_settings, llm_stub, workspace):
    posts = variations(_request(workspace), n=3)

    assert len(posts) == 3
    assert len({post.content for post in posts}) == 3
    temperatures = [r.body["temperature"] for r in llm_stub.completions()]
    assert temperatures == [0.7, 0.8, 0.9]


def test_regenerate_asks_for_another_take(llm_settings, llm_stub, workspace):
    first = generate_post(_request(workspace))
    second = generate_post(_request(workspace), attempt=1)

    assert second.content != first.content


# --------------------------------------------------------------------------- platform limits, directly


def test_x_counts_emojis_double_and_the_variant_is_trimmed_to_its_weighted_limit():
    checker = PlatformChecker("x", [provider_for("x")])
    body = " ".join(["🚀 launch"] * 40)  # 360 characters, weighted far more

    fitted = fit(body, ["space", "rockets"], checker)

    result = provider_for("x").validate(Variant(text=fitted.text))
    assert result.is_valid
    assert result.length <= 280
    assert fitted.trimmed
    assert fitted.text.split("\n\n")[0].endswith("launch…")


def test_bluesky_counts_graphemes_so_family_emojis_count_one():
    checker = PlatformChecker("bluesky", [provider_for("bluesky")])
    body = "👨‍👩‍👧 " * 140  # 280 graphemes, far more code points

    fitted = fit(body.strip(), [], checker)

    assert not fitted.trimmed
    assert provider_for("bluesky").validate(Variant(text=fitted.text)).is_valid


def test_hashtags_are_dropped_before_words_are():
    checker = PlatformChecker("x", [provider_for("x")])
    body = "word " * 54 + "end"  # 273 characters: room for "#one" (278), not for "#one #two" (283)

    fitted = fit(body, ["one", "two"], checker)

    assert fitted.text == body + "\n\n#one"
    assert fitted.trimmed


# --------------------------------------------------------------------------- offline


def test_offline_generation_uses_templates_and_reports_unknown_variables(no_llm, workspace):
    Template.objects.create(
        workspace=workspace,
        name="Launch",
        body="{emoji}New at {workspace}: {product}! All about {topic}. {{not a var}}",
    )

    post = generate_post(_request(workspace, prompt="Write a post about our autumn menu"))

    assert post.source == "offline"
    assert post.model_label == OFFLINE_LABEL
    assert "New at Green Leaf Cafe: {product}! All about our autumn menu. {not a var}" in post.content
    assert any("{product}" in note and "Launch" in note for note in post.notes)
    assert post.prompt_tokens == 0
    assert post.generation_record["source"] == "offline"
    assert post.generation_record["template"]["name"] == "Launch"
    _assert_every_variant_passes(post)


def test_offline_generation_from_the_domains_samples_without_templates(no_llm, workspace):
    post = generate_post(_request(workspace, prompt="", emojis=False))

    assert post.source == "offline"
    assert "grow a small business" in post.content
    assert "#" not in post.content  # the sample's trailing hashtags became the hashtag list
    assert "smallbusiness" in post.hashtags
    assert "📈" not in post.content
    _assert_every_variant_passes(post)


def test_offline_variations_differ(no_llm, workspace):
    posts = variations(_request(workspace), n=3)

    assert len(posts) == 3
    assert len({post.content for post in posts}) >= 2
    assert all(post.source == "offline" for post in posts)


def test_fill_template():
    text, missing = fill_template("{a} and {b} and {{c}} and {a}", {"a": "x"})

    assert text == "x and {b} and {c} and x"
    assert missing == ["b"]


# --------------------------------------------------------------------------- proofread and key points


def test_proofread_with_the_model(llm_settings, llm_stub, workspace):
    text, changes = proofread(workspace=workspace, text="teh launch is  tomorrow .")

    assert text == "The launch is tomorrow."
    assert changes
    assert "<<<" in llm_stub.completions()[0].body["messages"][1]["content"]


def test_proofread_offline_says_so(no_llm, workspace):
    text, changes = proofread(workspace=workspace, text="i think teh the launch is  great")

    assert text == "I think the launch is great"
    assert changes[0] == "Checked offline with basic rules: no AI model is configured."


def test_proofread_refuses_empty_text(no_llm, workspace):
    with pytest.raises(ValidationError, match="no text to proofread"):
        proofread(workspace=workspace, text="   ")


DOCUMENT = (
    "Green Leaf Cafe opened in 2019 in the old bakery. "
    "Our oats come from three farms within 40 kilometres of the cafe. "
    "The oat milk is made fresh every morning in the cafe kitchen. "
    "Oat milk lattes are the best-selling drink, ahead of espresso. "
    "We compost every coffee ground with a local community garden. "
    "Opening hours are seven to four."
)


def test_key_points_with_the_model(llm_settings, llm_stub, workspace):
    points, note = summarise_key_points(workspace=workspace, text=DOCUMENT, max_points=3)

    assert len(points) == 3
    assert all(point in DOCUMENT for point in points)
    assert note == f"Key points by {PRIMARY_MODEL} (127.0.0.1:{llm_stub.base_url.split(':')[2].split('/')[0]})"
    assert "at most 3 key points" in llm_stub.completions()[0].body["messages"][0]["content"]


def test_key_points_offline_extract(no_llm, workspace):
    points, note = summarise_key_points(workspace=workspace, text=DOCUMENT, max_points=2)

    assert note == "offline extract"
    assert len(points) == 2
    assert all(point in DOCUMENT for point in points)
    assert any("oat" in point.lower() for point in points)


def test_key_points_fall_back_to_the_offline_extract_when_the_model_fails(llm_settings, llm_stub, workspace):
    llm_stub.set_default("server_error")

    points, note = summarise_key_points(workspace=workspace, text=DOCUMENT)

    assert note == "offline extract (the AI model did not answer)"
    assert points == key_points_offline(DOCUMENT, 8)
