"""The ``local`` backend: ``autobench run`` as a subprocess on this machine (executor ``"task"``).

Each payload is a run request (seeds of one config packed by ``experiments.local.seeds_per_task``).
:meth:`LocalBackend.run` starts :func:`~autobench.experiments.backends.command.command_for` with the
spec on stdin and ``AUTOBENCH_HOME=home``, streams the runner's progress lines (stderr) and keeps
them, then reads each seed's outcome from its run folder: the same files the Kubernetes shell
command reports, so both backends return the same result. A batch trains in one process,
vectorised over seeds where the solution has a batched variant, each seed with the results it
would have had alone.

A crash, NaN or OOM kill of the experiment, a bad spec and a timeout are returned as ``error``
(the runner has already retried once and recorded the failure). Only a missing or unlaunchable
``autobench`` raises :class:`~autobench.experiments.backends.base.BackendError`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from autobench.experiments import results
from autobench.experiments.backends.base import (
    BackendError,
    ExperimentBackend,
    Progress,
    check_request,
    command_for,
    group_requests,
    one_seed,
    pairs,
    read_record,
    result_from_record,
    seeds_of,
    spec_text,
    split_result,
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

    :param seeds_per_task: up to this many seeds of one config run in one process (1: one each).
    :param timeout: seconds per request (None: no limit); past it the whole process group is
        killed and the result's ``error`` says so.
    :param stream: where the runner's progress lines go as they come (default: ``sys.stderr`` as
        it is at run time, so an Airflow task's log; None: nowhere). The last ``keep_lines`` are
        kept in :attr:`last_output`.
    :param env: extra environment variables for the run (e.g. ``PYTHONPATH`` for a solution).
    """

    name = "local"
    executor = "task"
    batching = "experiments.local.seeds_per_task"

    def __init__(self, *, seeds_per_task: int = 1, timeout: float | None = None,
                 stream: TextIO | None | str = "stderr", env: dict[str, str] | None = None, keep_lines: int = 200):
        self.seeds_per_task = seeds_per_task
        self.timeout = timeout
        self.stream = stream
        self.env = dict(env or {})
        self.keep_lines = keep_lines
        self.last_output: list[str] = []

    @classmethod
    def from_settings(cls, settings: Any = None, **options: Any) -> LocalBackend:
        local = getattr(settings, "local", None)
        if local is not None:
            options.setdefault("seeds_per_task", local.seeds_per_task)
        return cls(**options)

    def __repr__(self) -> str:
        return f"LocalBackend(seeds_per_task={self.seeds_per_task}, timeout={self.timeout!r})"

    def group(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return group_requests(requests, self.seeds_per_task)

    def submit(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The payloads are the run requests themselves (a mapped task runs each)."""
        return [check_request(r) for r in requests]

    def collect(self, requests: Sequence[Mapping[str, Any]], outputs: Sequence[Any] | None,
                home: Path) -> list[dict[str, Any]]:
        """The tasks' results, seed by seed; a task that returned nothing (it failed) is read
        from its run folders."""
        out = []
        for request, output in pairs(requests, outputs):
            if not isinstance(output, Mapping):
                output = result_from_record(request, read_record(home, request, None),
                                            fallback_error="the run task returned no result")
            out += [one_seed(r) for r in split_result(output)]
        return out

    def run(self, payload: dict[str, Any], home: Path, *, progress: Progress | None = None) -> dict[str, Any]:
        """Run one request here: its result, each seed with ``cached`` (it was complete before
        the run: nothing trained) and ``seconds`` (its share of the wall time)."""
        req = check_request(payload)
        home = Path(home).expanduser().resolve()
        cached = {seed: results.find_complete(home, req["experiment_id"], req["config_hash"], req["mode"], seed)
                  is not None for seed in seeds_of(req)}
        argv = autobench_argv() + command_for(req)[1:]
        env = {**os.environ, **DETERMINISM_ENV, **self.env, HOME_ENV: str(home)}
        for stale in stale_failures(home, req):
            stale.unlink(missing_ok=True)
        kept: deque[str] = deque(maxlen=self.keep_lines)
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env,
                                    start_new_session=True)
        except OSError as exc:
            raise BackendError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
        stdout: list[str] = []
        readers = [threading.Thread(target=self._pump_stderr, args=(proc.stderr, kept, progress), daemon=True),
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
        seconds = time.perf_counter() - started
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
        return _with_costs(result_from_record(req, record, fallback_error=fallback), cached, seconds)

    def _pump_stderr(self, pipe: TextIO, kept: deque[str], progress: Progress | None) -> None:
        for line in pipe:
            kept.append(line.rstrip("\n"))
            if progress is not None:
                progress(line.rstrip("\n"))
                continue
            stream = sys.stderr if self.stream == "stderr" else self.stream
            if stream is not None:
                try:
                    stream.write(line)
                    stream.flush()
                except (OSError, ValueError):
                    pass


def _with_costs(result: dict[str, Any], cached: dict[int, bool], seconds: float) -> dict[str, Any]:
    """Each seed's ``cached`` and ``seconds`` (the wall time, shared by the seeds that trained);
    a batch's own: cached when every seed was, and the whole wall time."""
    trained = [seed for seed, hit in cached.items() if not hit]
    share = round(seconds / len(trained), 3) if trained else 0.0
    for one in result["results"].values() if "results" in result else [result]:
        one.update(cached=cached[one["seed"]], seconds=0.0 if cached[one["seed"]] else share)
    if "results" in result:
        result.update(cached=not trained, seconds=round(seconds, 3) if trained else 0.0)
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
