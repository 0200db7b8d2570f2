"""A local OpenAI-compatible server: POST /v1/chat/completions and GET /v1/models, as OpenAI documents them.

Written from the API reference (https://platform.openai.com/docs/api-reference/chat),
not from our client, so the client is tested against the documented shapes:
Bearer auth, request validation with 400s in OpenAI's error shape, the
`chat.completion` object with `usage`, 429 with Retry-After, 500.

Control: POST /_control/behaviours (see control.StubControl.apply), GET /_control/requests.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import asdict
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from content.llm_stub import text as stub_text
from content.llm_stub.control import Behaviour, RecordedRequest, StubControl

ROLES = frozenset({"system", "user", "assistant"})
DEFAULT_MODELS = ("stub-model", "stub-fallback")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json", headers=headers)


def openai_error(
    status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> Response:
    """An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return _json(body, status)


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _message_text(content: Any, index: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise BadRequest("Only text content parts are supported.", f"messages[{index}].content")
            texts.append(part["text"])
        return "\n".join(texts)
    raise BadRequest("Message content must be a string or a list of text parts.", f"messages[{index}].content")


def validate_completion_request(body: Any) -> dict[str, Any]:
    """Check a chat completion request the way the API does; return the normalised fields or raise BadRequest."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("You must provide a model parameter.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array.", "messages")
    normalised = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{index}] must be an object.", f"messages[{index}]")
        role = message.get("role")
        if role not in ROLES:
            raise BadRequest(
                f"Invalid value for 'messages[{index}].role': {role!r}. Supported: system, user, assistant.",
                f"messages[{index}].role",
            )
        normalised.append({"role": role, "content": _message_text(message.get("content"), index)})
    temperature = body.get("temperature", 1)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise BadRequest("'temperature' must be a number between 0 and 2.", "temperature")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise BadRequest(f"'{name}' must be a positive integer.", name)
    n = body.get("n", 1)
    if n != 1:
        raise BadRequest("This server answers one choice per request (n=1).", "n")
    if body.get("stream"):
        raise BadRequest("Streaming is not supported by this server.", "stream")
    response_format = body.get("response_format")
    schema: dict[str, Any] | None = None
    wants_json = False
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec.get("name"):
                raise BadRequest("'response_format.json_schema.name' is required.", "response_format.json_schema")
            if not isinstance(spec.get("schema", {}), dict):
                raise BadRequest("'response_format.json_schema.schema' must be an object.", "response_format")
            schema, wants_json = spec.get("schema") or {}, True
        elif kind == "json_object":
            wants_json = True
        elif kind != "text":
            raise BadRequest(
                "Invalid 'response_format.type': use 'text', 'json_object' or 'json_schema'.", "response_format"
            )
    if wants_json and schema is None:
        schema = _schema_in_messages(normalised)
    return {
        "model": model,
        "messages": normalised,
        "temperature": float(temperature),
        "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens"),
        "wants_json": wants_json,
        "schema": schema,
    }


def _schema_in_messages(messages: list[dict[str, str]]) -> dict[str, Any] | None:
    """With json_object, callers describe the shape in the prompt: find a JSON schema after "JSON schema"."""
    decoder = json.JSONDecoder()
    for message in messages:
        content = message["content"]
        start = content.find("JSON schema")
        while start != -1:
            brace = content.find("{", start)
            if brace == -1:
                break
            try:
                value, _end = decoder.raw_decode(content, brace)
            except ValueError:
                start = content.find("JSON schema", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = content.find("JSON schema", start + 1)
    return None


def _answer(request: dict[str, Any], behaviour: Behaviour) -> str:
    user = "\n".join(m["content"] for m in request["messages"] if m["role"] == "user")
    instructions = "\n".join(m["content"] for m in request["messages"])
    if behaviour.kind == "malformed":
        return "Sure! Here is your post: {title: " + stub_text.overlong(user, 60) + " (unfinished"
    schema = request["schema"] or {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    if behaviour.kind == "overlong":
        long_text = stub_text.overlong(user, behaviour.length)
        if not request["wants_json"]:
            return long_text
        if "text" in properties and "changes" in properties:
            return json.dumps({"text": long_text, "changes": []})
        return json.dumps({"title": "A very long post", "content": long_text, "hashtags": ["more", "longer"]})
    if not request["wants_json"]:
        return str(stub_text.post(user, instructions)["content"])
    if "key_points" in properties:
        return json.dumps(stub_text.key_points(user, instructions), ensure_ascii=False)
    if "text" in properties and "changes" in properties:
        return json.dumps(stub_text.proofread(user), ensure_ascii=False)
    return json.dumps(stub_text.post(user, instructions), ensure_ascii=False)


class LLMStubApp:
    """The WSGI application. One instance per server; its `control` scripts it."""

    def __init__(self, control: StubControl | None = None, models: tuple[str, ...] = DEFAULT_MODELS) -> None:
        self.control = control or StubControl()
        self.models = models
        self.url_map = Map(
            [
                Rule("/v1/chat/completions", endpoint="completions", methods=["POST"]),
                Rule("/v1/models", endpoint="models", methods=["GET"]),
                Rule("/_control/behaviours", endpoint="control", methods=["GET", "POST"]),
                Rule("/_control/requests", endpoint="request_log", methods=["GET"]),
            ]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, _args = self.url_map.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request)
        except NotFound:
            response = openai_error(404, f"Unknown URL: {request.method} {request.path}", code="unknown_url")
        except HTTPException as exc:
            response = openai_error(exc.code or 400, exc.description or "Bad request.")
        return response(environ, start_response)

    # -- the API
    def _authorised(self, request: Request) -> bool:
        expected = self.control.api_key
        if expected is None:
            return True
        return secrets.compare_digest(request.headers.get("Authorization", ""), f"Bearer {expected}")

    def _record(self, request: Request, body: Any, model: str = "", behaviour: str = "") -> None:
        self.control.record(
            RecordedRequest(
                method=request.method,
                path=request.path,
                authorization=request.headers.get("Authorization", ""),
                body=body if isinstance(body, dict) else None,
                model=model,
                behaviour=behaviour,
                headers={key.lower(): value for key, value in request.headers.items()},
            )
        )

    def _unauthorised(self) -> Response:
        return openai_error(
            401,
            "Incorrect API key provided. You can find your API key in your account settings.",
            code="invalid_api_key",
        )

    def on_models(self, request: Request) -> Response:
        self._record(request, None)
        if not self._authorised(request):
            return self._unauthorised()
        created = 1_700_000_000
        data = [
            {"id": model, "object": "model", "created": created, "owned_by": "letsgrow-stub"} for model in self.models
        ]
        return _json({"object": "list", "data": data})

    def on_completions(self, request: Request) -> Response:
        body = request.get_json(force=True, silent=True)
        latency = self.control.latency
        if latency:
            time.sleep(latency)  # every request on its own thread: a slow answer holds up no other
        if not self._authorised(request):
            self._record(request, body, model=str((body or {}).get("model", "")) if isinstance(body, dict) else "")
            return self._unauthorised()
        try:
            parsed = validate_completion_request(body)
        except BadRequest as exc:
            self._record(request, body)
            return openai_error(400, exc.message, param=exc.param)
        behaviour = self.control.next_behaviour(parsed["model"])
        self._record(request, body, model=parsed["model"], behaviour=behaviour.kind)
        if behaviour.kind == "rate_limited":
            response = openai_error(
                429,
                f"Rate limit reached for {parsed['model']}. Please try again in {behaviour.retry_after}s.",
                kind="requests",
                code="rate_limit_exceeded",
            )
            response.headers["Retry-After"] = str(behaviour.retry_after)
            return response
        if behaviour.kind == "server_error":
            return openai_error(500, "The server had an error while processing your request.", kind="server_error")
        if behaviour.kind == "timeout":
            time.sleep(behaviour.seconds)
        content = _answer(parsed, behaviour)
        prompt_tokens = sum(stub_text.estimate_tokens(m["content"]) for m in parsed["messages"])
        completion_tokens = stub_text.estimate_tokens(content)
        return _json(
            {
                "id": f"chatcmpl-{secrets.token_hex(12)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": parsed["model"],
                "system_fingerprint": "fp_letsgrow_stub",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    # -- control
    def on_control(self, request: Request) -> Response:
        if request.method == "POST":
            data = request.get_json(force=True, silent=True)
            try:
                self.control.apply(data)
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
        return _json({"queue": self.control.pending(), "latency": self.control.latency})

    def on_request_log(self, request: Request) -> Response:
        entries = []
        for entry in self.control.requests:
            item = asdict(entry)
            # The log may be read over HTTP: show whether a key came, never the key.
            item["authorization"] = "Bearer ***" if entry.authorization else ""
            item["headers"].pop("authorization", None)
            entries.append(item)
        return _json({"requests": entries})


class QuietRequestHandler(WSGIRequestHandler):
    """No access log line per request (tests make hundreds); errors still go to the log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def serve_in_thread(host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str, StubControl]:
    """Start the stub on a background thread; port 0 picks a free one. Returns (server, base URL with /v1, control)."""
    app = LLMStubApp()
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="llm-stub", daemon=True)
    thread.start()
    base_url = f"http://{host}:{server.server_port}/v1"
    app.control.base_url = base_url
    return server, base_url, app.control
