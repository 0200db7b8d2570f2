"""`manage.py run_emulator` as honcho and the benchmarks run it: one granian worker holding the state.

It answers over kept-alive HTTP/1.1 connections, saves its state when stopped (SIGTERM from
honcho and the benchmarks, Ctrl-C from a person) and starts again from the saved file.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from publishing.emulator.core import EmulatorState

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(state_file: Path) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_emulator", "--port", str(port), "--state-file", str(state_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as the benchmarks start it
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if _call(port, "GET", "/_emulator/")[0] == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"run_emulator did not answer: {process.communicate()[0]}")


def _call(port: int, method: str, path: str, body: object = None) -> tuple[int, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body) if body is not None else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def _stop(process: subprocess.Popen[str], sig: signal.Signals, *, group: bool = False) -> str:
    """Send `sig` (to the whole group, as Ctrl-C in a terminal does, when `group`); the output once it exited."""
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output
    with contextlib.suppress(ProcessLookupError):  # nothing of its process group is left behind
        os.killpg(process.pid, 0)
        raise AssertionError(f"processes of run_emulator's group outlived it: {output}")
    return output


def test_run_emulator_keeps_connections_alive_saves_its_state_and_restores_it(tmp_path):
    state_file = tmp_path / "var" / "emulator-state.pickle"
    process, port = _start(state_file)
    try:
        # Two calls on one connection: HTTP/1.1 keep-alive, as the real platforms (and providers) use.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/_emulator/")
        first = connection.getresponse()
        assert first.status == 200
        assert "x" in json.loads(first.read())["platforms"]
        kept = connection.sock
        connection.request(
            "POST",
            "/_emulator/faults",
            body=json.dumps({"platform": "x", "kind": "rate_limit", "operation": "publish"}),
            headers={"Content-Type": "application/json"},
        )
        second = connection.getresponse()
        assert second.status == 201, second.read()
        second.read()
        assert connection.sock is kept
        connection.close()
    finally:
        output = _stop(process, signal.SIGTERM)  # honcho and the benchmarks stop it so

    assert f"Platform emulator on http://127.0.0.1:{port}" in output
    saved = EmulatorState()
    saved.restore(state_file.read_bytes())
    assert [(f.platform, f.kind, f.operation) for f in saved.faults] == [("x", "rate_limit", "publish")]

    process, port = _start(state_file)
    try:
        status, body = _call(port, "GET", "/_emulator/faults")
        assert status == 200
        assert [f["kind"] for f in body["faults"]] == ["rate_limit"]
        assert _call(port, "DELETE", "/_emulator/faults")[0] == 200
    finally:
        output = _stop(process, signal.SIGINT, group=True)  # Ctrl-C

    assert f"Restored the emulator's state from {state_file}" in output
    saved.restore(state_file.read_bytes())
    assert saved.faults == []
