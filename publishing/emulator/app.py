"""Build the emulator WSGI app from every platform module, and serve it."""

from __future__ import annotations

import threading
from importlib import import_module

from werkzeug.serving import BaseWSGIServer, make_server

from publishing.emulator.core import EmulatorApp, EmulatorState, PlatformEmulator

# slug → "module:Class", one per platform (CONTRIBUTING.md, "Add a platform").
PLATFORM_EMULATORS: dict[str, str] = {
    "x": "publishing.emulator.platforms.x:XEmulator",
    "linkedin": "publishing.emulator.platforms.linkedin:LinkedInEmulator",
    "facebook": "publishing.emulator.platforms.facebook:FacebookEmulator",
    "instagram": "publishing.emulator.platforms.instagram:InstagramEmulator",
    "threads": "publishing.emulator.platforms.threads:ThreadsEmulator",
    "mastodon": "publishing.emulator.platforms.mastodon:MastodonEmulator",
    "bluesky": "publishing.emulator.platforms.bluesky:BlueskyEmulator",
}


def _load(path: str) -> type[PlatformEmulator] | None:
    module_name, class_name = path.split(":")
    try:
        return getattr(import_module(module_name), class_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # a platform not written yet
            return None
        raise


def create_app(state: EmulatorState | None = None) -> EmulatorApp:
    platforms = [cls for cls in (_load(p) for p in PLATFORM_EMULATORS.values()) if cls is not None]
    return EmulatorApp(platforms, state)


def serve_in_thread(host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, EmulatorApp]:
    """Start the emulator on a background thread (tests); port 0 picks a free one."""
    app = create_app()
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="platform-emulator", daemon=True)
    thread.start()
    return server, app
