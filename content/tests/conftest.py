"""Fixtures for the AI tests: the local OpenAI-compatible stub over real HTTP, and settings pointing at it."""

from __future__ import annotations

import pytest

PRIMARY_MODEL = "stub-model"
FALLBACK_MODEL = "stub-fallback"


@pytest.fixture(scope="session")
def _llm_stub_server():
    from content.llm_stub import serve_in_thread

    server, base_url, control = serve_in_thread()
    yield server, base_url, control
    server.shutdown()


@pytest.fixture
def llm_stub(_llm_stub_server):
    """The stub, reset: every request answers "ok" until scripted. Returns its StubControl (`.base_url` set)."""
    _server, base_url, control = _llm_stub_server
    control.reset()
    control.base_url = base_url
    yield control
    control.reset()


@pytest.fixture
def llm_settings(llm_stub, settings):
    """The server's model is the stub ("stub-model"), its fallback the same stub under "stub-fallback".

    Script primary and fallback apart with `llm_stub.script("timeout", model=PRIMARY_MODEL)`.
    """
    settings.LLM_BASE_URL = llm_stub.base_url
    settings.LLM_MODEL = PRIMARY_MODEL
    settings.LLM_API_KEY = "server-primary-key"
    settings.LLM_FALLBACK_BASE_URL = llm_stub.base_url
    settings.LLM_FALLBACK_MODEL = FALLBACK_MODEL
    settings.LLM_FALLBACK_API_KEY = "server-fallback-key"
    settings.LLM_TIMEOUT_SECONDS = 5.0
    return settings


@pytest.fixture
def no_llm(settings):
    """No model configured anywhere: generation runs offline."""
    settings.LLM_BASE_URL = ""
    settings.LLM_FALLBACK_BASE_URL = ""
    return settings
