"""Serve the local platform emulator (X, LinkedIn, Facebook, Instagram, Threads, Mastodon, Bluesky)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from werkzeug.serving import make_server

from publishing.emulator.app import create_app


class Command(BaseCommand):
    help = "Run the local platform emulator: the platforms' documented APIs, for development and tests."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)

    def handle(self, *args, host: str, port: int, **options):
        app = create_app()
        server = make_server(host, port, app, threaded=True)
        self.stdout.write(
            f"Platform emulator on http://{host}:{port} ({', '.join(sorted(app.platforms))}); "
            f"control API at /_emulator/. Ctrl-C stops it."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
