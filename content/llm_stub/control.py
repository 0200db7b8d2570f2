"""What the stub does next: scripted behaviours, a default, a global latency, and the request log.

Thread-safe: the server answers every request on its own thread, and tests
script it from theirs. Behaviours are consumed in order, one per completion
request: first the queue for the request's model, then the shared queue, then
the model's default, then the global default ("ok").
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

BEHAVIOUR_KINDS = ("ok", "malformed", "timeout", "rate_limited", "server_error", "overlong")


@dataclass(frozen=True)
class Behaviour:
    """One way of answering a completion request.

    `seconds`: how long "timeout" sleeps before answering (normally, too late).
    `retry_after`: the Retry-After of "rate_limited". `length`: the characters of
    "overlong" content. `model`: only requests for this model consume it ("" = any).
    """

    kind: str = "ok"
    seconds: float = 5.0
    retry_after: int = 1
    length: int = 1200
    model: str = ""

    def __post_init__(self) -> None:
        if self.kind not in BEHAVIOUR_KINDS:
            raise ValueError(f"unknown behaviour {self.kind!r}; use one of {', '.join(BEHAVIOUR_KINDS)}")
        if self.seconds < 0 or self.length < 0 or self.retry_after < 0:
            raise ValueError("seconds, length and retry_after must not be negative")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Behaviour:
        if not isinstance(data, dict):
            raise ValueError('a behaviour is a JSON object such as {"kind": "timeout", "seconds": 2}')
        unknown = set(data) - {"kind", "seconds", "retry_after", "length", "model"}
        if unknown:
            raise ValueError(f"unknown behaviour fields: {', '.join(sorted(unknown))}")
        try:
            return cls(
                kind=str(data.get("kind", "ok")),
                seconds=float(data.get("seconds", 5.0)),
                retry_after=int(data.get("retry_after", 1)),
                length=int(data.get("length", 1200)),
                model=str(data.get("model", "")),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from exc


@dataclass
class RecordedRequest:
    method: str
    path: str
    authorization: str
    body: dict[str, Any] | None
    model: str = ""
    behaviour: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class StubControl:
    """Script the stub and read what it received. `base_url` is set by whoever starts the server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.base_url = ""
        self.reset()

    def reset(self) -> None:
        """Forget every script, default, key, latency and recorded request."""
        with self._lock:
            self._queue: deque[Behaviour] = deque()
            self._defaults: dict[str, Behaviour] = {}
            self._latency = 0.0
            self._api_key: str | None = None
            self._requests: list[RecordedRequest] = []

    # -- scripting
    def script(self, *behaviours: Behaviour | str, model: str = "", **params: Any) -> None:
        """Queue behaviours, consumed one per completion request (strings use `params` and `model`)."""
        with self._lock:
            for item in behaviours:
                self._queue.append(item if isinstance(item, Behaviour) else Behaviour(kind=item, model=model, **params))

    def set_default(self, kind: str | Behaviour, *, model: str = "", **params: Any) -> None:
        """Answer every request (for `model`, or any) this way once the queue is empty."""
        behaviour = kind if isinstance(kind, Behaviour) else Behaviour(kind=kind, model=model, **params)
        with self._lock:
            self._defaults[behaviour.model] = behaviour

    def set_latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must not be negative")
        with self._lock:
            self._latency = float(seconds)

    def require_api_key(self, key: str | None) -> None:
        """Accept only `Authorization: Bearer <key>` (None: accept anything, as local servers do)."""
        with self._lock:
            self._api_key = key

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @property
    def api_key(self) -> str | None:
        with self._lock:
            return self._api_key

    def next_behaviour(self, model: str) -> Behaviour:
        """Take the behaviour for one request for `model`."""
        with self._lock:
            for index, behaviour in enumerate(self._queue):
                if behaviour.model in ("", model):
                    del self._queue[index]
                    return behaviour
            return self._defaults.get(model) or self._defaults.get("") or Behaviour()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(behaviour) for behaviour in self._queue]

    # -- the request log
    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def completions(self, model: str = "") -> list[RecordedRequest]:
        """Completion requests received (for `model`, or all)."""
        return [r for r in self.requests if r.path.endswith("/chat/completions") and (not model or r.model == model)]

    def apply(self, data: dict[str, Any]) -> None:
        """Apply a control request: {"reset"?, "queue"?: [...], "default"?: {...}, "latency"?, "api_key"?}."""
        if not isinstance(data, dict):
            raise ValueError("send a JSON object")
        unknown = set(data) - {"reset", "queue", "default", "latency", "api_key"}
        if unknown:
            raise ValueError(f"unknown control fields: {', '.join(sorted(unknown))}")
        queue = [Behaviour.from_dict(item) for item in data.get("queue") or []]
        default = Behaviour.from_dict(data["default"]) if data.get("default") is not None else None
        latency = data.get("latency")
        if latency is not None and (not isinstance(latency, int | float) or latency < 0):
            raise ValueError("latency is a number of seconds, 0 or more")
        if data.get("reset"):
            self.reset()
        self.script(*queue)
        if default is not None:
            self.set_default(default)
        if latency is not None:
            self.set_latency(float(latency))
        if "api_key" in data:
            key = data["api_key"]
            self.require_api_key(str(key) if key else None)
