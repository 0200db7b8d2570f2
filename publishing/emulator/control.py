"""The emulator's control API (`/_emulator/…`) and a small client for tests.

POST /_emulator/faults         {"platform", "kind", "operation"?, "account"?, "times"?, "retry_after"?, "delay"?}
GET  /_emulator/faults         armed faults
DELETE /_emulator/faults       disarm all
GET  /_emulator/requests       the request log (?platform=&operation=&account=)
GET  /_emulator/store/<slug>   what a platform holds (posts, media, …)
POST /_emulator/expire-tokens  {"platform", "account"}: every access token of the account expires now
POST /_emulator/reset          forget everything
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from publishing.emulator.core import FAULT_KINDS, Fault, json_response

if TYPE_CHECKING:
    from publishing.emulator.core import EmulatorApp


def rules() -> list[Rule]:
    return [
        Rule("/_emulator/", endpoint=("_control", "index"), methods=["GET"]),
        Rule("/_emulator/faults", endpoint=("_control", "faults"), methods=["GET", "POST", "DELETE"]),
        Rule("/_emulator/requests", endpoint=("_control", "request_log"), methods=["GET"]),
        Rule("/_emulator/store/<slug>", endpoint=("_control", "store"), methods=["GET"]),
        Rule("/_emulator/expire-tokens", endpoint=("_control", "expire_tokens"), methods=["POST"]),
        Rule("/_emulator/reset", endpoint=("_control", "reset"), methods=["POST"]),
        Rule("/_media/<name>", endpoint=("_control", "media"), methods=["GET", "HEAD"]),
    ]


# A 1x1 PNG: what every "public media URL" on the emulator serves, so platforms
# that fetch media (Instagram, Threads) can fetch something real.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def media(app: EmulatorApp, request: Request, name: str) -> Response:
    return Response(PIXEL_PNG, mimetype="image/png")


def index(app: EmulatorApp, request: Request) -> Response:
    return json_response(
        {"emulator": "LetsGrow local platform emulator", "platforms": sorted(app.platforms), "faults": FAULT_KINDS}
    )


def faults(app: EmulatorApp, request: Request) -> Response:
    if request.method == "DELETE":
        with app.state.lock:
            app.state.faults.clear()
        return json_response({"faults": []})
    if request.method == "POST":
        data = request.get_json(force=True, silent=True) or {}
        if data.get("platform") not in app.platforms:
            return json_response({"error": f"unknown platform {data.get('platform')!r}"}, 400)
        try:
            fault = app.state.add_fault(
                Fault(
                    platform=data["platform"],
                    kind=str(data.get("kind", "")),
                    operation=str(data.get("operation", "*")),
                    account=str(data.get("account", "*")),
                    times=int(data.get("times", 1)),
                    retry_after=int(data.get("retry_after", 30)),
                    delay=float(data.get("delay", 0)),
                )
            )
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(asdict(fault), 201)
    with app.state.lock:
        return json_response({"faults": [asdict(f) for f in app.state.faults]})


def request_log(app: EmulatorApp, request: Request) -> Response:
    filters = {k: v for k, v in request.args.items() if k in ("platform", "operation", "account", "method")}
    with app.state.lock:
        entries = [asdict(e) for e in app.state.requests if all(getattr(e, k) == v for k, v in filters.items())]
    return json_response({"requests": entries})


def store(app: EmulatorApp, request: Request, slug: str) -> Response:
    with app.state.lock:
        data = app.state.stores.get(slug, {})
        return Response(json.dumps(data, default=str), mimetype="application/json")


def expire_tokens(app: EmulatorApp, request: Request) -> Response:
    data = request.get_json(force=True, silent=True) or {}
    count = app.state.expire_tokens(str(data.get("platform")), str(data.get("account")))
    return json_response({"expired": count})


def reset(app: EmulatorApp, request: Request) -> Response:
    app.state.reset()
    return json_response({"reset": True})


class EmulatorControl:
    """Steer a running emulator over HTTP (tests, demos)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def url(self, slug: str) -> str:
        """Where a platform lives on this emulator, e.g. http://127.0.0.1:8100/x."""
        return f"{self.base_url}/{slug}"

    def inject_fault(self, platform: str, kind: str, **options: Any) -> dict[str, Any]:
        response = requests.post(
            f"{self.base_url}/_emulator/faults", json={"platform": platform, "kind": kind, **options}, timeout=5
        )
        response.raise_for_status()
        return response.json()

    def clear_faults(self) -> None:
        requests.delete(f"{self.base_url}/_emulator/faults", timeout=5).raise_for_status()

    def requests(self, **filters: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.base_url}/_emulator/requests", params=filters, timeout=5)
        response.raise_for_status()
        return response.json()["requests"]

    def store(self, platform: str) -> dict[str, Any]:
        response = requests.get(f"{self.base_url}/_emulator/store/{platform}", timeout=5)
        response.raise_for_status()
        return response.json()

    def expire_tokens(self, platform: str, account: str) -> int:
        response = requests.post(
            f"{self.base_url}/_emulator/expire-tokens", json={"platform": platform, "account": account}, timeout=5
        )
        response.raise_for_status()
        return response.json()["expired"]

    def reset(self) -> None:
        requests.post(f"{self.base_url}/_emulator/reset", timeout=5).raise_for_status()
