"""The product's real processes, started as `make run` starts them (honcho + Procfile).

Embedded default: SQLite, the file broker, the file cache, all in a temp folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.stack


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own local server)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


@pytest.fixture
def stack(tmp_path):
    """Migrate a fresh SQLite file, then run web, worker and beat under honcho."""
    port, emulator_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="letsgrow.settings.local",
        LETSGROW_VAR_DIR=str(tmp_path / "var"),
        LETSGROW_PORT=str(port),
        LETSGROW_EMULATOR_PORT=str(emulator_port),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, timeout=180)
    log = (tmp_path / "honcho.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        yield base_url, f"http://127.0.0.1:{emulator_port}", tmp_path / "var", process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        log.close()
        print((tmp_path / "honcho.log").read_text()[-4000:])


def test_make_run_processes_become_ready_and_report_a_lost_broker(stack):
    base_url, emulator_url, var_dir, honcho = stack

    status, body = _wait_for(lambda: _get(f"{base_url}/healthz"), 60, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}

    def ready():
        status, body = _get(f"{base_url}/readyz")
        return (status, json.loads(body)) if status == 200 else None

    status, body = _wait_for(ready, 90, "/readyz to report web, worker and beat ready")
    assert body["failing"] == []
    assert body["checks"]["database"]["details"] == {"vendor": "sqlite"}

    home_status, home = _get(f"{base_url}/")
    assert home_status == 200 and b'data-bs-theme="dark"' in home
    css_status, css = _get(f"{base_url}/static/vendor/bootstrap/css/bootstrap.min.css")
    assert css_status == 200 and b"Bootstrap" in css[:200]
    login_status, _ = _get(f"{base_url}/accounts/login/")
    assert login_status == 200
    emulator_status, emulator_body = _get(f"{emulator_url}/_emulator/")
    assert emulator_status == 200 and "x" in json.loads(emulator_body)["platforms"]

    shutil.rmtree(var_dir / "broker" / "queue")
    status, body = _get(f"{base_url}/readyz")
    body = json.loads(body)
    assert status == 503
    assert body["failing"] == ["broker"]

    # Ctrl-C stops every process.
    os.killpg(honcho.pid, signal.SIGINT)
    assert honcho.wait(timeout=30) is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(base_url.rsplit(":", 1)[1])), timeout=2).close()
