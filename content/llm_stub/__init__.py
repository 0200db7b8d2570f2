"""A local OpenAI-compatible server for development and tests (`manage.py run_llm_stub`).

Like publishing/emulator, it is a stand-in for the outside world: it imports
nothing of the product's, so it never mirrors our own client's assumptions.
"""

from __future__ import annotations

from content.llm_stub.app import LLMStubApp, serve_in_thread
from content.llm_stub.control import BEHAVIOUR_KINDS, Behaviour, StubControl

__all__ = ["BEHAVIOUR_KINDS", "Behaviour", "LLMStubApp", "StubControl", "serve_in_thread"]
