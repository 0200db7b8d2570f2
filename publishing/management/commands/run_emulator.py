"""Serve the local platform emulator (X, LinkedIn, Facebook, Instagram, Threads, Mastodon, Bluesky)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

from publishing.emulator.app import create_app
from publishing.emulator.core import EmulatorApp

SAVE_EVERY_SECONDS = 5
# Python threads that run the app. The app holds the GIL for almost all of a call, so more
# threads only add switching; a few let a `slow` fault or a lost response (which sleeps)
# wait without stopping every other call.
BLOCKING_THREADS = int(os.environ.get("EMULATOR_BLOCKING_THREADS", "4"))
RUNTIME_THREADS = int(os.environ.get("EMULATOR_RUNTIME_THREADS", "1"))  # Rust I/O threads


class Command(BaseCommand):
    help = "Run the local platform emulator: the platforms' documented APIs, for development and tests."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument(
            "--state-file",
            default="",
            help="Keep the emulator's accounts, tokens and posts in this file across restarts (make run does).",
        )

    def handle(self, *args, host: str, port: int, state_file: str, **options):
        app = create_app()
        state_path = Path(state_file) if state_file else None
        if state_path and state_path.exists():
            try:
                app.state.restore(state_path.read_bytes())
                self.stdout.write(f"Restored the emulator's state from {state_path}.")
            except Exception as exc:  # a file from an older emulator: start afresh, say so
                self.stderr.write(f"Could not restore {state_path} ({type(exc).__name__}); starting empty.")
        # granian (a Rust HTTP server) in front of the WSGI app: it keeps HTTP/1.1 connections
        # alive, as the real platforms do, and parses HTTP outside the GIL, so the emulator's one
        # Python process spends its CPU on the platforms, not on the server. Exactly one worker
        # process: the state lives in memory. It is forked from this one, so it starts with the
        # state restored above, and it saves the state itself (periodically and when it stops).
        server = Granian(
            "publishing.emulator.app:create_app",  # only named in granian's log: the app is built above
            address=host,
            port=port,
            interface=Interfaces.WSGI,
            workers=1,
            blocking_threads=BLOCKING_THREADS,
            runtime_threads=RUNTIME_THREADS,
            http=HTTPModes.http1,
            http1_settings=HTTP1Settings(keep_alive=True, header_read_timeout=120_000),
            backlog=2048,
            log_level=LogLevels.warning,
        )
        message = (
            f"Platform emulator on http://{host}:{port} ({', '.join(sorted(app.platforms))}); "
            f"control API at /_emulator/. Ctrl-C stops it."
        )
        # Once the socket listens (connections queue until the worker takes them).
        server.on_startup(lambda: self.stdout.write(message))
        # The worker must inherit `app` (fork), not import a fresh one (spawn).
        multiprocessing.set_start_method("fork", force=True)
        # honcho and the benchmark stop the emulator with SIGTERM, a person with Ctrl-C: granian's
        # main process takes both and stops the worker with SIGTERM; the worker saves, then exits.
        server.serve(
            spawn_target=_worker(app, state_path),
            target_loader=lambda _target: app,
        )


def _worker(app: EmulatorApp, state_path: Path | None):
    """The worker process's body: granian's WSGI worker, with the state saved every few seconds and at the end."""

    def save() -> None:
        if state_path:
            state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_path.with_suffix(".tmp")
            tmp.write_bytes(app.state.snapshot())
            tmp.replace(state_path)

    def run(*args: Any, **kwargs: Any) -> None:
        stop = threading.Event()

        def save_periodically() -> None:
            while not stop.wait(SAVE_EVERY_SECONDS):
                save()

        if state_path:
            threading.Thread(target=save_periodically, name="emulator-state", daemon=True).start()
        # granian starts every request's environ from this process's environment: variables
        # named like request headers (HTTP_PROXY is one) would read as headers the client never
        # sent. Nothing in the worker needs them.
        for name in [n for n in os.environ if n.startswith("HTTP_") or n in ("CONTENT_TYPE", "CONTENT_LENGTH")]:
            del os.environ[name]
        try:
            Granian._spawn_wsgi_worker(*args, **kwargs)
        finally:
            stop.set()
            save()

    return run
