"""Root pytest configuration: real-server markers and shared fixtures.

Tests marked `postgres` or `redis` need that real server; without DATABASE_URL /
REDIS_URL they are skipped, and the run says so at the end.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings

# --- the real browser: Debian's chromium, driven by pytest-playwright --------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in the test thread; the ORM calls a
# browser test makes between page actions are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def offsite_requests(page, live_server):
    """Record every request the page makes to anywhere but our own server."""
    seen: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(live_server.url) else seen.append(request.url))
    return seen


_REQUIREMENTS = {
    "postgres": ("DATABASE_URL pointing at PostgreSQL", lambda: settings.IS_POSTGRES),
    "redis": ("REDIS_URL", lambda: bool(settings.REDIS_URL)),
}
_skipped_for: dict[str, int] = {}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker, (what, available) in _REQUIREMENTS.items():
            if marker in item.keywords and not available():
                item.add_marker(pytest.mark.skip(reason=f"needs a real server: set {what}"))
                _skipped_for[what] = _skipped_for.get(what, 0) + 1


def pytest_terminal_summary(terminalreporter):
    for what, count in _skipped_for.items():
        terminalreporter.write_line(f"NOTE: {count} test(s) skipped because they need a real server: set {what}.")
    if not os.environ.get("DATABASE_URL"):
        terminalreporter.write_line(
            "NOTE: ran on SQLite; set DATABASE_URL (and REDIS_URL) to run against real servers."
        )


# --- the local platform emulator, over real HTTP ------------------------------------------


@pytest.fixture(scope="session")
def _emulator_server():
    from publishing.emulator.app import serve_in_thread

    server, app = serve_in_thread()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()


@pytest.fixture
def emulator(_emulator_server, settings):
    """The platform emulator, reset, with every provider pointed at it. Returns its control client."""
    from publishing.emulator.control import EmulatorControl

    url, app = _emulator_server
    app.state.reset()
    settings.PLATFORM_EMULATOR_ENABLED = True
    settings.PLATFORM_EMULATOR_URL = url
    control = EmulatorControl(url)
    control.app = app  # direct access for assertions that need the emulator's own view
    return control


@pytest.fixture(autouse=True)
def _fresh_rate_budgets(monkeypatch):
    """Each test gets rate-budget counters of its own (ids are reused between tests; Redis is shared)."""
    import uuid

    from publishing import budgets

    monkeypatch.setattr(budgets, "KEY_PREFIX", f"letsgrow-test:budget:{uuid.uuid4().hex[:12]}")
