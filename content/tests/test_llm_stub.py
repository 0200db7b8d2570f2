"""The local OpenAI-compatible stub speaks the documented API: shapes, auth, validation, behaviours, concurrency."""

from __future__ import annotations

import json
import threading
import time

import openai
import pytest
import requests

from content.llm_stub import Behaviour
from content.llm_stub.control import StubControl

POST_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "content": {"type": "string"}, "hashtags": {"type": "array"}},
}


def _client(llm_stub, key: str = "any-key", timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm_stub.base_url, api_key=key, timeout=timeout, max_retries=0)


def _ask(client: openai.OpenAI, user: str = "Write a post about sourdough bread baking at home", **kwargs):
    params = {
        "model": "stub-model",
        "messages": [{"role": "system", "content": "Answer JSON."}, {"role": "user", "content": user}],
        "response_format": {"type": "json_object"},
    }
    params.update(kwargs)
    return client.chat.completions.create(**params)


def test_a_completion_has_the_documented_shape_and_a_post_about_the_prompt(llm_stub):
    response = _ask(_client(llm_stub), temperature=0.3, max_tokens=200)

    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert response.model == "stub-model"
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.role == "assistant"
    data = json.loads(response.choices[0].message.content)
    assert set(data) == {"title", "content", "hashtags"}
    assert "sourdough" in data["content"].lower()
    assert data["hashtags"][:2] == ["sourdough", "bread"]
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_the_same_prompt_gives_the_same_answer_and_another_prompt_another(llm_stub):
    client = _client(llm_stub)

    first = _ask(client).choices[0].message.content
    again = _ask(client).choices[0].message.content
    other = _ask(client, user="Write a post about cycling commutes in winter").choices[0].message.content

    assert first == again
    assert other != first
    assert "cycling" in json.loads(other)["content"].lower()


def test_it_obeys_a_character_limit_and_no_emojis_no_hashtags(llm_stub):
    response = _ask(
        _client(llm_stub),
        messages=[
            {"role": "system", "content": "Write in at most 90 characters. Do not use emojis. Do not use hashtags."},
            {"role": "user", "content": "Write a post about kayaking rivers and lakes safely"},
        ],
    )

    data = json.loads(response.choices[0].message.content)
    assert len(data["content"]) <= 90
    assert data["hashtags"] == []
    assert all(ord(ch) < 0x2000 or ch == "…" for ch in data["content"])


def test_a_schema_with_key_points_gets_key_points_from_the_quoted_text(llm_stub):
    text = (
        "Our solar panels cut energy bills by a third. Installation takes one day. "
        "The panels carry a twenty year warranty. Customers in Spain saw the biggest savings."
    )
    schema = {"type": "object", "properties": {"key_points": {"type": "array"}}}

    response = _ask(
        _client(llm_stub),
        messages=[
            {"role": "system", "content": f"At most 2 key points. JSON schema: {json.dumps(schema)}"},
            {"role": "user", "content": f"The document:\n<<<\n{text}\n>>>"},
        ],
    )

    points = json.loads(response.choices[0].message.content)["key_points"]
    assert len(points) == 2
    assert all(point in text for point in points)


def test_a_json_schema_response_format_with_text_and_changes_gets_a_proofread(llm_stub):
    response_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "proofread",
            "schema": {"type": "object", "properties": {"text": {}, "changes": {}}},
        },
    }

    response = _ask(
        _client(llm_stub),
        messages=[{"role": "user", "content": "Proofread:\n<<<\nteh launch is  tomorrow .\n>>>"}],
        response_format=response_format,
    )

    data = json.loads(response.choices[0].message.content)
    assert data["text"] == "The launch is tomorrow."
    assert data["changes"]


def test_a_wrong_key_is_refused_in_openais_error_shape(llm_stub):
    llm_stub.require_api_key("right-key")

    with pytest.raises(openai.AuthenticationError) as caught:
        _ask(_client(llm_stub, key="wrong-key"))

    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    assert caught.value.body["type"] == "invalid_request_error"
    assert _ask(_client(llm_stub, key="right-key")).choices[0].message.content
    assert [r.authorization for r in llm_stub.completions()] == ["Bearer wrong-key", "Bearer right-key"]


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"temperature": 2.5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format.json_schema"),
    ],
)
def test_bad_requests_answer_400_in_openais_error_shape(llm_stub, changes, param):
    body = {"model": "stub-model", "messages": [{"role": "user", "content": "hello there"}], **changes}

    response = requests.post(f"{llm_stub.base_url}/chat/completions", json=body, timeout=5)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_models_are_listed(llm_stub):
    models = _client(llm_stub).models.list()

    assert {model.id for model in models.data} == {"stub-model", "stub-fallback"}


def test_rate_limited_answers_429_with_retry_after(llm_stub):
    llm_stub.script("rate_limited", retry_after=7)

    with pytest.raises(openai.RateLimitError) as caught:
        _ask(_client(llm_stub))

    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["code"] == "rate_limit_exceeded"


def test_server_error_malformed_and_overlong(llm_stub):
    llm_stub.script("server_error", "malformed", Behaviour(kind="overlong", length=900))
    client = _client(llm_stub)

    with pytest.raises(openai.InternalServerError):
        _ask(client)
    malformed = _ask(client).choices[0].message.content
    overlong = json.loads(_ask(client).choices[0].message.content)

    with pytest.raises(ValueError):
        json.loads(malformed)
    assert len(overlong["content"]) == 900
    assert [r.behaviour for r in llm_stub.completions()] == ["server_error", "malformed", "overlong"]


def test_a_timeout_behaviour_answers_too_late(llm_stub):
    llm_stub.script("timeout", seconds=1.5)

    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        _ask(_client(llm_stub, timeout=0.3))

    assert time.monotonic() - started < 1.2


def test_behaviours_can_target_one_model_and_defaults_apply_after_the_queue(llm_stub):
    llm_stub.script("server_error", model="stub-model")
    llm_stub.set_default("rate_limited", model="stub-fallback")
    client = _client(llm_stub)

    fallback_first = requests.post(
        f"{llm_stub.base_url}/chat/completions",
        json={"model": "stub-fallback", "messages": [{"role": "user", "content": "hi there friends"}]},
        timeout=5,
    )
    with pytest.raises(openai.InternalServerError):
        _ask(client)
    assert _ask(client).choices[0].message.content  # the queue is empty: "ok"

    assert fallback_first.status_code == 429


def test_the_http_control_endpoint_scripts_and_validates(llm_stub):
    base = llm_stub.base_url.removesuffix("/v1")

    ok = requests.post(
        f"{base}/_control/behaviours", json={"queue": [{"kind": "server_error"}], "latency": 0}, timeout=5
    )
    bad = requests.post(f"{base}/_control/behaviours", json={"queue": [{"kind": "explode"}]}, timeout=5)

    assert ok.status_code == 200
    assert ok.json()["queue"][0]["kind"] == "server_error"
    assert bad.status_code == 400
    assert "unknown behaviour" in bad.json()["error"]
    with pytest.raises(openai.InternalServerError):
        _ask(_client(llm_stub))


def test_the_request_log_over_http_hides_keys(llm_stub):
    _ask(_client(llm_stub, key="sk-very-secret"))

    log = requests.get(f"{llm_stub.base_url.removesuffix('/v1')}/_control/requests", timeout=5).json()["requests"]

    assert log[0]["authorization"] == "Bearer ***"
    assert "sk-very-secret" not in json.dumps(log)


def test_latency_does_not_block_other_requests(llm_stub):
    llm_stub.set_latency(0.6)
    client = _client(llm_stub)
    durations: list[float] = []

    def one() -> None:
        started = time.monotonic()
        _ask(client)
        durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=one) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert len(durations) == 4
    assert min(durations) >= 0.6
    assert elapsed < 4 * 0.6  # served side by side, not one after the other


def test_control_is_thread_safe_each_behaviour_is_consumed_once():
    control = StubControl()
    control.script(*(["server_error"] * 200))
    taken: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(60):
            kind = control.next_behaviour("m").kind
            with lock:
                taken.append(kind)

    threads = [threading.Thread(target=take) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert taken.count("server_error") == 200
    assert taken.count("ok") == 100


def test_unknown_behaviours_are_refused():
    with pytest.raises(ValueError, match="unknown behaviour"):
        Behaviour(kind="explode")
