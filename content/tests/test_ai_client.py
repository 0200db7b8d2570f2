"""The AI client against the local stub over real HTTP, through the real `openai` client: fallback and metering."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ValidationError

from billing.models import Subscription
from content.ai import client as ai_client
from content.ai.client import AIUnavailable, Endpoint, complete_json, endpoints_for, llm_configured, parse_json_object
from content.ai.usage import usage_this_month
from content.models import AISettings, TokenUsage
from content.tests.conftest import FALLBACK_MODEL, PRIMARY_MODEL
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "content": {"type": "string", "minLength": 1},
        "hashtags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title", "content", "hashtags"],
}


def _complete(workspace, **kwargs):
    params = {
        "workspace": workspace,
        "system": "You write social media posts.",
        "user": "Write one post about: composting kitchen scraps in small apartments",
        "schema": SCHEMA,
    }
    params.update(kwargs)
    return complete_json(**params)


def test_good_json_from_the_primary(llm_settings, llm_stub):
    workspace = WorkspaceFactory()

    result = _complete(workspace, temperature=0.4, max_tokens=300)

    assert result.endpoint.model == PRIMARY_MODEL
    assert result.failures == []
    assert "composting" in result.data["content"].lower()
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    [request] = llm_stub.completions()
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.body["temperature"] == 0.4
    assert request.body["max_tokens"] == 300
    assert request.authorization == "Bearer server-primary-key"
    # The schema travels in the system prompt, since json_object mode takes none.
    assert '"required":["title","content","hashtags"]' in request.body["messages"][0]["content"]


@pytest.mark.parametrize(
    ("behaviour", "params", "reason"),
    [
        ("malformed", {}, "not valid JSON"),
        ("rate_limited", {"retry_after": 30}, "rate limit reached (429)"),
        ("server_error", {}, "server error (500)"),
    ],
)
def test_a_failing_primary_falls_back(llm_settings, llm_stub, behaviour, params, reason):
    workspace = WorkspaceFactory()
    llm_stub.script(behaviour, model=PRIMARY_MODEL, **params)

    result = _complete(workspace)

    assert result.endpoint.model == FALLBACK_MODEL
    assert [r.model for r in llm_stub.completions()] == [PRIMARY_MODEL, FALLBACK_MODEL]
    assert len(result.failures) == 1
    assert reason in result.failures[0]
    assert PRIMARY_MODEL in result.failures[0]
    assert result.data["content"]


def test_a_timeout_falls_back_without_waiting_for_the_slow_answer(llm_settings, llm_stub):
    llm_settings.LLM_TIMEOUT_SECONDS = 0.5
    workspace = WorkspaceFactory()
    llm_stub.script("timeout", seconds=3, model=PRIMARY_MODEL)

    result = _complete(workspace)

    assert result.endpoint.model == FALLBACK_MODEL
    assert "timeout" in result.failures[0]


def test_an_answer_of_the_wrong_shape_falls_back(llm_settings, llm_stub):
    workspace = WorkspaceFactory()
    key_points_schema = {
        "type": "object",
        "properties": {"key_points": {"type": "array"}},
        "required": ["key_points"],
    }
    # The primary answers a post, not key points: valid JSON, wrong shape.
    llm_stub.script("overlong", model=PRIMARY_MODEL, length=50)

    result = _complete(workspace, schema=key_points_schema)

    assert result.endpoint.model == FALLBACK_MODEL
    assert "expected shape" in result.failures[0]
    assert "key_points" in result.data


def test_everything_failing_raises_ai_unavailable_with_a_plain_message(llm_settings, llm_stub):
    llm_settings.LLM_TIMEOUT_SECONDS = 0.5
    workspace = WorkspaceFactory()
    llm_stub.script("timeout", seconds=2, model=PRIMARY_MODEL)
    llm_stub.script("timeout", seconds=2, model=FALLBACK_MODEL)

    with pytest.raises(AIUnavailable) as caught:
        _complete(workspace)

    assert caught.value.message == (
        "The AI model did not answer (timeout), and neither did the fallback. "
        "Try again in a minute or check the AI settings."
    )
    assert len(caught.value.failures) == 2


def test_different_failures_are_both_named(llm_settings, llm_stub):
    workspace = WorkspaceFactory()
    llm_stub.script("rate_limited", model=PRIMARY_MODEL)
    llm_stub.script("server_error", model=FALLBACK_MODEL)

    with pytest.raises(AIUnavailable) as caught:
        _complete(workspace)

    assert caught.value.message.startswith(
        "The AI model did not answer (rate limited), and neither did the fallback (server error)."
    )


def test_a_refused_key_is_reported_not_retried_and_the_fallback_used(llm_settings, llm_stub):
    llm_stub.require_api_key("server-fallback-key")
    workspace = WorkspaceFactory()

    result = _complete(workspace)

    assert result.endpoint.model == FALLBACK_MODEL
    assert [r.model for r in llm_stub.completions()] == [PRIMARY_MODEL, FALLBACK_MODEL]
    assert "API key was refused (401)" in result.failures[0]


def test_no_endpoint_configured(no_llm):
    workspace = WorkspaceFactory()

    assert endpoints_for(workspace) == []
    assert llm_configured(workspace) is False
    with pytest.raises(AIUnavailable, match="No AI model is configured"):
        _complete(workspace)


def test_every_answered_call_is_metered_even_unusable_ones(llm_settings, llm_stub):
    workspace = WorkspaceFactory()
    other = WorkspaceFactory()
    llm_stub.script("malformed", model=PRIMARY_MODEL)

    result = _complete(workspace)

    row = TokenUsage.objects.get(workspace=workspace)
    assert row.calls == 2  # the malformed answer cost tokens too
    assert row.completion_tokens > result.completion_tokens
    assert row.prompt_tokens == 2 * result.prompt_tokens
    assert not TokenUsage.objects.filter(workspace=other).exists()


def test_failed_calls_that_never_answered_are_not_metered(llm_settings, llm_stub):
    workspace = WorkspaceFactory()
    llm_stub.script("server_error", model=PRIMARY_MODEL)

    _complete(workspace)

    assert TokenUsage.objects.get(workspace=workspace).calls == 1


def test_an_exhausted_budget_stops_before_any_call(llm_settings, llm_stub):
    workspace = WorkspaceFactory()
    Subscription.objects.create(workspace=workspace, plan="free")
    usage = usage_this_month(workspace)
    TokenUsage.objects.create(workspace=workspace, month=usage.month, prompt_tokens=40_000, completion_tokens=10_000)

    with pytest.raises(ValidationError) as caught:
        _complete(workspace)

    assert caught.value.code == "ai_budget"
    assert "50,000 AI tokens" in caught.value.messages[0]
    assert "Free plan" in caught.value.messages[0]
    assert llm_stub.completions() == []


def test_the_workspaces_own_key_and_model_are_used(llm_settings, llm_stub):
    workspace = WorkspaceFactory()
    AISettings.objects.create(
        workspace=workspace, base_url=llm_stub.base_url, model="byo-model", api_key="sk-workspace-own"
    )
    llm_stub.require_api_key("sk-workspace-own")

    result = _complete(workspace)

    [request] = llm_stub.completions()
    assert request.authorization == "Bearer sk-workspace-own"
    assert request.model == "byo-model"
    assert result.endpoint.label.endswith("this workspace's key)")
    # Only the workspace's own endpoints: the server's are not mixed in.
    assert [endpoint.model for endpoint in endpoints_for(workspace)] == ["byo-model"]


def test_the_workspaces_fallback_follows_its_primary(llm_settings, llm_stub):
    workspace = WorkspaceFactory()
    AISettings.objects.create(
        workspace=workspace,
        base_url=llm_stub.base_url,
        model="byo-model",
        api_key="k1",
        fallback_base_url=llm_stub.base_url,
        fallback_model="byo-fallback",
        fallback_api_key="k2",
    )
    llm_stub.script("server_error", model="byo-model")

    result = _complete(workspace)

    assert result.endpoint.model == "byo-fallback"
    assert [r.authorization for r in llm_stub.completions()] == ["Bearer k1", "Bearer k2"]


def test_keys_never_reach_the_log_or_a_repr(llm_settings, llm_stub, caplog):
    workspace = WorkspaceFactory()
    AISettings.objects.create(workspace=workspace, base_url=llm_stub.base_url, model="m", api_key="sk-hidden-123")
    llm_stub.require_api_key("something-else")
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AIUnavailable) as caught:
        _complete(workspace)

    assert "sk-hidden-123" not in caplog.text
    assert "sk-hidden-123" not in caught.value.message + " ".join(caught.value.failures)
    assert "sk-hidden-123" not in repr(endpoints_for(workspace))


def test_clients_are_cached_per_endpoint(llm_settings):
    endpoint = Endpoint(base_url="http://127.0.0.1:9/v1", model="m", api_key="k", label="m (127.0.0.1:9)")

    first = ai_client._client(endpoint)
    again = ai_client._client(endpoint)
    other = ai_client._client(Endpoint(base_url=endpoint.base_url, model="m", api_key="k2", label="x"))

    assert first is again
    assert other is not first


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Here you go: {"a": 1} hope it helps', {"a": 1}),
        ("[1, 2]", None),
        ("{title: unfinished", None),
        ("", None),
    ],
)
def test_parse_json_object(content, expected):
    assert parse_json_object(content) == expected
