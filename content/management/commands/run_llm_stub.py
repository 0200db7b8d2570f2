"""Serve the local OpenAI-compatible stub, so AI generation works end to end with no provider account."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from werkzeug.serving import make_server

from content.llm_stub.app import LLMStubApp, QuietRequestHandler


class Command(BaseCommand):
    help = "Run a local OpenAI-compatible server (POST /v1/chat/completions, GET /v1/models) for development."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8200)
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds to wait before every answer.")
        parser.add_argument(
            "--api-key", default="", help="Accept only this Bearer key (default: any key, as local servers do)."
        )

    def handle(self, *args, host: str, port: int, latency: float, api_key: str, **options):
        if latency < 0:
            raise CommandError("--latency must be 0 or more seconds.")
        app = LLMStubApp()
        app.control.set_latency(latency)
        app.control.require_api_key(api_key or None)
        server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
        # honcho stops its processes with SIGTERM: shut down cleanly on it too.
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
        self.stdout.write(
            f"LLM stub on http://{host}:{port}/v1 (latency {latency:g} s). "
            f"Point LetsGrow at it with LLM_BASE_URL=http://{host}:{port}/v1 LLM_MODEL=stub-model. "
            "Script it at /_control/behaviours. Ctrl-C stops it."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
