"""Readiness checks for /readyz: each returns a CheckResult and never raises."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from letsgrow.lib import heartbeat

BROKER_TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    error: str = ""
    details: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        if not self.error:
            del data["error"]
        if not self.details:
            del data["details"]
        return data


def _describe(exc: BaseException) -> str:
    # Class and message only: enough to act on, no tracebacks or settings.
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:300] if message else type(exc).__name__


def check_database() -> CheckResult:
    """The default database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return CheckResult(ok=False, error=_describe(exc))
    return CheckResult(ok=True, details={"vendor": connection.vendor})


def check_broker() -> CheckResult:
    """The Celery broker accepts a connection (or, for the file broker, its folders are writable)."""
    from letsgrow.celery import app

    if app.conf.broker_url.startswith("filesystem://"):
        options = app.conf.broker_transport_options
        folders = {options["data_folder_in"], options["data_folder_out"]}
        unwritable = [f for f in sorted(folders) if not (Path(f).is_dir() and os.access(f, os.W_OK))]
        if unwritable:
            return CheckResult(ok=False, error=f"broker folder missing or not writable: {', '.join(unwritable)}")
        return CheckResult(ok=True, details={"transport": "filesystem"})
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
            transport = conn.transport_cls
    except Exception as exc:
        return CheckResult(ok=False, error=_describe(exc))
    return CheckResult(ok=True, details={"transport": str(transport)})


def _check_heartbeat(process: str) -> CheckResult:
    try:
        age = heartbeat.age_seconds(process)
    except Exception as exc:
        return CheckResult(ok=False, error=f"cannot read heartbeat: {_describe(exc)}")
    limit = settings.HEARTBEAT_MAX_AGE_SECONDS
    if age is None:
        return CheckResult(ok=False, error=f"no {process} heartbeat recorded: is the {process} running?")
    if age > limit:
        return CheckResult(
            ok=False,
            error=f"{process} heartbeat is {age:.0f}s old (limit {limit}s)",
            details={"age_seconds": round(age, 1)},
        )
    return CheckResult(ok=True, details={"age_seconds": round(age, 1)})


def check_worker() -> CheckResult:
    """A Celery worker has beaten within HEARTBEAT_MAX_AGE_SECONDS."""
    return _check_heartbeat(heartbeat.WORKER)


def check_beat() -> CheckResult:
    """Celery beat's scheduler loop has beaten within HEARTBEAT_MAX_AGE_SECONDS."""
    return _check_heartbeat(heartbeat.BEAT)


READINESS_CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
    "beat": check_beat,
}


def run_readiness_checks() -> dict[str, CheckResult]:
    """Run every readiness check, in a fixed order."""
    return {name: check() for name, check in READINESS_CHECKS.items()}
