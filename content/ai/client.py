"""Talk to any OpenAI-compatible endpoint (OpenAI, Mistral, Groq, Ollama, vLLM) through the official client.

One primary endpoint and an optional fallback: the workspace's own (bring your
own key, content.AISettings), else the server's (settings.LLM_*). A call moves
on to the next endpoint when one times out, is unreachable, rate-limits, fails
on its side (5xx) or answers with something that is not the JSON asked for.
Every answered call is metered (content.ai.usage). Keys never reach a log line,
an exception message or a repr.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import openai
from django.conf import settings

from accounts.models import Workspace
from content.ai.usage import check_budget, record_usage
from content.models import AISettings

logger = logging.getLogger(__name__)

AI_SETTINGS_HINT = "Try again in a minute or check the AI settings."
NOT_CONFIGURED = "No AI model is configured for this workspace."
CLIENT_CACHE_SIZE = 64


@dataclass(frozen=True)
class Endpoint:
    """One model behind one OpenAI-compatible base URL. `label` is for people ("gpt-4o-mini (api.openai.com)")."""

    base_url: str
    model: str
    api_key: str = field(repr=False)
    label: str


@dataclass(frozen=True)
class LLMResult:
    data: dict[str, Any]
    endpoint: Endpoint
    prompt_tokens: int
    completion_tokens: int
    failures: list[str]  # what went wrong on the endpoints tried before this one


class AIUnavailable(Exception):
    """No configured endpoint gave a usable answer. `message` says so in plain words; `failures` per endpoint."""

    def __init__(self, message: str, failures: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.failures = list(failures or [])


def _host(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


def make_endpoint(*, base_url: str, model: str, api_key: str, own: bool = False) -> Endpoint:
    base_url = base_url.strip().rstrip("/")
    suffix = ", this workspace's key" if own else ""
    return Endpoint(
        base_url=base_url, model=model.strip(), api_key=api_key or "", label=f"{model} ({_host(base_url)}{suffix})"
    )


def endpoints_for(workspace: Workspace) -> list[Endpoint]:
    """The endpoints to try, in order: the workspace's own when it set one, else the server's; [] when none."""
    own = AISettings.objects.for_workspace(workspace).first()
    if own is not None and (own.base_url or own.fallback_base_url):
        endpoints = []
        if own.base_url:
            endpoints.append(
                make_endpoint(
                    base_url=own.base_url, model=own.model or settings.LLM_MODEL, api_key=own.api_key or "", own=True
                )
            )
        if own.fallback_base_url:
            endpoints.append(
                make_endpoint(
                    base_url=own.fallback_base_url,
                    model=own.fallback_model or own.model or settings.LLM_MODEL,
                    api_key=own.fallback_api_key or "",
                    own=True,
                )
            )
        return endpoints
    endpoints = []
    if settings.LLM_BASE_URL:
        endpoints.append(
            make_endpoint(base_url=settings.LLM_BASE_URL, model=settings.LLM_MODEL, api_key=settings.LLM_API_KEY)
        )
    if settings.LLM_FALLBACK_BASE_URL:
        endpoints.append(
            make_endpoint(
                base_url=settings.LLM_FALLBACK_BASE_URL,
                model=settings.LLM_FALLBACK_MODEL or settings.LLM_MODEL,
                api_key=settings.LLM_FALLBACK_API_KEY,
            )
        )
    return endpoints


def llm_configured(workspace: Workspace) -> bool:
    return bool(endpoints_for(workspace))


# --------------------------------------------------------------------------- clients, one per endpoint

_clients: OrderedDict[tuple[str, str, float], openai.OpenAI] = OrderedDict()
_clients_lock = threading.Lock()


def _client(endpoint: Endpoint) -> openai.OpenAI:
    """A cached client for the endpoint (its connection pool is reused); thread-safe, bounded."""
    timeout = float(settings.LLM_TIMEOUT_SECONDS)
    # The key is part of the identity (a workspace may change it) but only as a digest.
    key = (endpoint.base_url, hashlib.sha256(endpoint.api_key.encode()).hexdigest(), timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            # max_retries=0: retrying is ours to decide (fall back at once rather than wait on a failing endpoint).
            client = openai.OpenAI(
                base_url=endpoint.base_url, api_key=endpoint.api_key or "none", timeout=timeout, max_retries=0
            )
            _clients[key] = client
            while len(_clients) > CLIENT_CACHE_SIZE:
                _clients.popitem(last=False)
        else:
            _clients.move_to_end(key)
        return client


# --------------------------------------------------------------------------- answers


_FENCE = re.compile(r"^```(?:json|JSON)?\s*(.*?)\s*```$", re.DOTALL)


def parse_json_object(content: str | None) -> dict[str, Any] | None:
    """The JSON object in a model's answer (code fences and chatter around it tolerated), else None."""
    if not content:
        return None
    text = content.strip()
    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1)
    try:
        value = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start == -1 or end <= start:
            return None
        try:
            value = json.loads(text[start : end + 1])
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _estimate_tokens(text: str) -> int:
    return round(len(text.split()) * 1.3)


@dataclass
class _Attempt:
    reason: str = ""  # short, for the message shown to people ("timeout")
    failure: str = ""  # longer, per endpoint, for the record
    result: LLMResult | None = None


def _classify(exc: Exception, endpoint: Endpoint) -> tuple[str, str]:
    """(short reason, failure line) for an exception from the client. Never includes a key."""
    label = endpoint.label
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", f"{label}: no answer within {float(settings.LLM_TIMEOUT_SECONDS):g} s (timeout)."
    if isinstance(exc, openai.APIConnectionError):
        return "unreachable", f"{label}: could not be reached."
    if isinstance(exc, openai.RateLimitError):
        return "rate limited", f"{label}: rate limit reached (429)."
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        # The body of a 401 may quote part of the key: leave it out.
        return "API key refused", f"{label}: the API key was refused ({exc.status_code})."
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return "server error", f"{label}: server error ({exc.status_code})."
        detail = ""
        if isinstance(exc.body, dict):
            detail = str(exc.body.get("message") or "")[:200]
        return "request refused", f"{label}: refused the request ({exc.status_code}{': ' + detail if detail else ''})."
    return "error", f"{label}: failed ({type(exc).__name__})."


def _call(
    endpoint: Endpoint,
    *,
    workspace: Workspace,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    temperature: float,
    max_tokens: int,
) -> _Attempt:
    try:
        response = _client(endpoint).chat.completions.create(
            model=endpoint.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=temperature,
            max_tokens=max_tokens,
            response_format={"type": "json_object"},
        )
    except openai.OpenAIError as exc:
        reason, failure = _classify(exc, endpoint)
        return _Attempt(reason=reason, failure=failure)
    content = response.choices[0].message.content if response.choices else None
    usage = response.usage
    prompt_tokens = usage.prompt_tokens if usage else _estimate_tokens(" ".join(m["content"] for m in messages))
    completion_tokens = usage.completion_tokens if usage else _estimate_tokens(content or "")
    # Answered calls cost tokens whether or not the answer is usable: meter them all.
    record_usage(workspace=workspace, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    data = parse_json_object(content)
    if data is None:
        return _Attempt(reason="unreadable answer", failure=f"{endpoint.label}: the answer was not valid JSON.")
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "answer"
        return _Attempt(
            reason="unusable answer",
            failure=f"{endpoint.label}: the answer did not have the expected shape ({where}: {exc.message[:150]}).",
        )
    return _Attempt(
        result=LLMResult(
            data=data,
            endpoint=endpoint,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            failures=[],
        )
    )


def unavailable_message(reasons: list[str]) -> str:
    """The plain-words message for people when every endpoint failed."""
    if not reasons:
        return f"{NOT_CONFIGURED} {AI_SETTINGS_HINT}"
    first = f"The AI model did not answer ({reasons[0]})"
    if len(reasons) == 1:
        return f"{first}. {AI_SETTINGS_HINT}"
    rest = [reason for reason in reasons[1:]]
    fallback = "" if set(rest) == {reasons[0]} else f" ({', '.join(dict.fromkeys(rest))})"
    return f"{first}, and neither did the fallback{fallback}. {AI_SETTINGS_HINT}"


def complete_json(
    *,
    workspace: Workspace,
    system: str,
    user: str,
    schema: dict[str, Any],
    temperature: float = 0.7,
    max_tokens: int = 800,
) -> LLMResult:
    """Ask the workspace's model(s) for one JSON object matching `schema`; the first usable answer wins.

    Raises ValidationError (code "ai_budget") when the month's tokens are used
    up, before any call; AIUnavailable when no endpoint is configured or none
    gave a usable answer (its `failures` say what happened on each).
    """
    check_budget(workspace)
    endpoints = endpoints_for(workspace)
    if not endpoints:
        raise AIUnavailable(f"{NOT_CONFIGURED} Generate offline, or set one up in the AI settings.")
    instructions = (
        f"{system.strip()}\n\nAnswer with one JSON object only: no prose, no code fences. "
        f"It must match this JSON schema: {json.dumps(schema, separators=(',', ':'))}"
    )
    messages = [{"role": "system", "content": instructions}, {"role": "user", "content": user}]
    reasons: list[str] = []
    failures: list[str] = []
    for endpoint in endpoints:
        attempt = _call(
            endpoint,
            workspace=workspace,
            messages=messages,
            schema=schema,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        if attempt.result is not None:
            return LLMResult(
                data=attempt.result.data,
                endpoint=endpoint,
                prompt_tokens=attempt.result.prompt_tokens,
                completion_tokens=attempt.result.completion_tokens,
                failures=failures,
            )
        logger.warning("LLM call failed, trying the next endpoint if any: %s", attempt.failure)
        reasons.append(attempt.reason)
        failures.append(attempt.failure)
    raise AIUnavailable(unavailable_message(reasons), failures)


def ping(*, workspace: Workspace, endpoint: Endpoint) -> str:
    """Make one tiny call to `endpoint`; return what happened, or raise AIUnavailable with the plain error.

    For "Test connection" in the AI settings: metered like any call, but not
    refused for budget (a few tokens to check a key are worth it).
    """
    started = time.monotonic()
    try:
        response = _client(endpoint).chat.completions.create(
            model=endpoint.model,
            messages=[{"role": "user", "content": "Reply with the single word OK."}],
            temperature=0,
            max_tokens=5,
        )
    except openai.OpenAIError as exc:
        _reason, failure = _classify(exc, endpoint)
        raise AIUnavailable(failure, [failure]) from None
    usage = response.usage
    record_usage(
        workspace=workspace,
        prompt_tokens=usage.prompt_tokens if usage else 8,
        completion_tokens=usage.completion_tokens if usage else 1,
    )
    elapsed = round((time.monotonic() - started) * 1000)
    return f"Connected: {endpoint.label} answered in {elapsed} ms."
