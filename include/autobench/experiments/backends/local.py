"""The ``local`` backend: ``autobench run`` as a subprocess on this machine.

It runs :func:`~autobench.experiments.backends.base.command_for` with the spec on stdin and
``AUTOBENCH_HOME=home``, streams the runner's progress lines (stderr) to ``stream`` and keeps
them, then reads each seed's ``metrics.json`` / ``failure.json`` from the run folders, the same
files the Kubernetes shell command reports, so both backends return the same result.

A crash, NaN or OOM kill of the experiment, a bad spec and a timeout are returned as ``error``
(the runner has already retried once and written ``failure.json``). Only a missing or
unlaunchable ``autobench`` raises :class:`~autobench.experiments.backends.base.BackendError`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any, TextIO

from autobench.experiments.backends.base import (
    BackendError,
    ExperimentBackend,
    check_request,
    command_for,
    read_record,
    result_from_record,
    spec_text,
    stale_failures,
)
from autobench.experiments.runner import DETERMINISM_ENV
from autobench.paths import HOME_ENV


def autobench_argv() -> list[str]:
    """The ``autobench`` next to this interpreter (the venv's), else ``python -m autobench``."""
    script = Path(sys.executable).with_name("autobench")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "autobench"]


class LocalBackend(ExperimentBackend):
    """Runs requests as ``autobench run`` subprocesses.

    :param timeout: seconds per request (None: no limit); past it the whole process group is
        killed and the result's ``error`` says so.
    :param stream: where the runner's progress lines go as they come (default: ``sys.stderr`` as
        it is at run time, so an Airflow task's log; None: nowhere). The last ``keep_lines`` are
        kept in :attr:`last_output`.
    :param env: extra environment variables for the run (e.g. ``PYTHONPATH`` for a solution).
    """

    name = "local"

    def __init__(self, *, timeout: float | None = None, stream: TextIO | None | str = "stderr",
                 env: dict[str, str] | None = None, keep_lines: int = 200):
        self.timeout = timeout
        self.stream = stream
        self.env = dict(env or {})
        self.keep_lines = keep_lines
        self.last_output: list[str] = []

    def __repr__(self) -> str:
        return f"LocalBackend(timeout={self.timeout!r})"

    def run(self, request: dict[str, Any], home: Path) -> dict[str, Any]:
        req = check_request(request)
        home = Path(home).expanduser().resolve()
        argv = autobench_argv() + command_for(req)[1:]
        env = {**os.environ, **DETERMINISM_ENV, **self.env, HOME_ENV: str(home)}
        for stale in stale_failures(home, req):
            stale.unlink(missing_ok=True)
        kept: deque[str] = deque(maxlen=self.keep_lines)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env,
                                    start_new_session=True)
        except OSError as exc:
            raise BackendError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
        stdout: list[str] = []
        readers = [threading.Thread(target=self._pump_stderr, args=(proc.stderr, kept), daemon=True),
                   threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)]
        for t in readers:
            t.start()
        try:
            proc.stdin.write(spec_text(req["spec"]) + "\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        timed_out = False
        try:
            code = proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            code = proc.wait()
        for t in readers:
            t.join(timeout=10)
        self.last_output = list(kept)
        if timed_out:
            fallback = f"timed out after {self.timeout:g} s (the run was killed)"
        else:
            last = next((line for line in reversed(kept) if line.strip()), "")
            fallback = last or f"autobench exited with status {code}"
        record = read_record(home, req, code)
        if timed_out:  # whatever a killed run left is not its result
            for entry in record["seeds"].values():
                if entry["metrics"] is None:
                    entry["failure"] = None
        return result_from_record(req, record, fallback_error=fallback)

    def _pump_stderr(self, pipe: TextIO, kept: deque[str]) -> None:
        for line in pipe:
            kept.append(line.rstrip("\n"))
            stream = sys.stderr if self.stream == "stderr" else self.stream
            if stream is not None:
                try:
                    stream.write(line)
                    stream.flush()
                except (OSError, ValueError):
                    pass


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
