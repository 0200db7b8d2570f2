"""Serve the local platform emulator (X, LinkedIn, Facebook, Instagram, Threads, Mastodon, Bluesky)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
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
# Python threads that run the app, and Rust threads that do the HTTP I/O. The app holds the
# GIL for almost all of a call, so more threads only add switching: measured on 2 cores with
# 8 keep-alive clients, 1 or 2 app threads cost least (4 and 8 about 0.05-0.1 ms more per
# call), 2 runtime threads more than 1. Two, not one, so that a call that waits (a `slow`
# fault, a lost response, Instagram fetching a media URL from this emulator) does not stop
# every other call meanwhile.
BLOCKING_THREADS = 2
RUNTIME_THREADS = 1
# honcho and the benchmarks stop the emulator with SIGTERM, a person with Ctrl-C (SIGINT), a
# closed terminal with SIGHUP: each saves the state and stops.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


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

        @server.on_startup  # the socket listens (connections wait for the worker); the worker is next
        def started() -> None:
            self.stdout.write(message)
            _take_stop_signals(lambda signum: server.signal_handler_interrupt())

        # The worker must inherit `app` (fork), not import a fresh one (spawn).
        multiprocessing.set_start_method("fork", force=True)
        server.serve(spawn_target=_worker(app, state_path), target_loader=lambda _target: app)


def _take_stop_signals(on_signal) -> None:
    """Have one thread of this process wait for the stop signals and call `on_signal(signum)`.

    granian's main thread (and its worker's) waits on a lock for the signal handler to wake it;
    a signal the kernel hands to any other thread of the process (granian starts several) would
    leave it asleep and the process running. So the signals are blocked here, before granian
    starts its threads and forks the worker, which all inherit the mask: they stay pending until
    the thread below takes them.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def wait() -> None:
        while True:
            on_signal(signal.sigwait(STOP_SIGNALS))

    threading.Thread(target=wait, name="emulator-signals", daemon=True).start()


def _worker(app: EmulatorApp, state_path: Path | None):
    """The worker process's body: granian's WSGI worker, with the state saved every few seconds and at the end."""
    lock = threading.Lock()

    def save() -> None:
        if state_path:
            with lock:
                state_path.parent.mkdir(parents=True, exist_ok=True)
                tmp = state_path.with_suffix(".tmp")
                tmp.write_bytes(app.state.snapshot())
                tmp.replace(state_path)

    def run(*args: Any, **kwargs: Any) -> None:
        stop = threading.Event()
        # The handler the worker inherited from granian's main process; granian installs its own.
        inherited = signal.getsignal(signal.SIGTERM)

        def on_signal(signum: int) -> None:
            if not stop.is_set():
                stop.set()
                save()  # now: a call still running (a slow fault, a lost response) may hold the stop up
            while signal.getsignal(signal.SIGTERM) is inherited:  # a signal during startup
                time.sleep(0.05)
            handler = signal.getsignal(signal.SIGTERM)
            if callable(handler):
                handler(signum, None)  # granian's: stop taking requests, finish the running ones

        # Still blocked (the mask came with the fork): taken by a thread of this process from now on.
        _take_stop_signals(on_signal)

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
