"""Serve the local platform emulator (X, LinkedIn, Facebook, Instagram, Threads, Mastodon, Bluesky)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from django.core.management.base import BaseCommand
from waitress import create_server

from publishing.emulator.app import create_app

SAVE_EVERY_SECONDS = 5


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
        # waitress, not werkzeug's development server: it keeps HTTP/1.1 connections alive, as the
        # real platforms do (werkzeug closes every connection, so each call would pay a new TCP
        # connection on both sides and the benchmarks would measure the emulator, not the engine).
        server = create_server(
            app, host=host, port=port, threads=16, connection_limit=2000, channel_timeout=120, ident="emulator"
        )
        stop = threading.Event()

        def save() -> None:
            if state_path:
                state_path.parent.mkdir(parents=True, exist_ok=True)
                tmp = state_path.with_suffix(".tmp")
                tmp.write_bytes(app.state.snapshot())
                tmp.replace(state_path)

        def save_periodically() -> None:
            while not stop.wait(SAVE_EVERY_SECONDS):
                save()

        if state_path:
            threading.Thread(target=save_periodically, name="emulator-state", daemon=True).start()

        # honcho stops its processes with SIGTERM: shut down cleanly (and save) on it too.
        def interrupt(*_):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
        self.stdout.write(
            f"Platform emulator on http://{host}:{port} ({', '.join(sorted(app.platforms))}); "
            f"control API at /_emulator/. Ctrl-C stops it."
        )
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            save()
            server.close()
