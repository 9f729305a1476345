"""`make demo`: a week of autobench, replayed with Airflow in a few minutes.

It starts, on loopback, a leaderboard site whose pages change by day and an arXiv-compatible API
(``demo.site``) and a fake Slack that records what it receives
(``demo.fake_slack``); creates a state folder from the ``week`` example and a
throw-away Airflow home (SQLite); then replays the calendar with ``airflow dags test DAG DATE``,
each run's time as its logical date:

- every day: ``leaderboard_monitor`` 06:00, ``experiment_sweep`` 08:00;
- Mondays also: ``research_ingest`` 07:00, ``weekly_digest`` 09:00;

and plays the scheduler's part that ``dags test`` does not: after each run it reads the Asset
events the run raised from the metadata DB and starts the DAGs scheduled on those Assets (5
minutes later in the replayed time), passing each event's details as conf under its Asset's key
(``{"urgent": {"leaderboard", "reason"}}``, as the sweep's Param reads it). After every
day it runs ``autobench validate``. It prints what happened, day by day, and ends with the digest
as Slack received it. Everything it writes is under ``--workdir``; ``report.json`` there holds
every run, its output, the state's files after each day and what Slack received.

    python -m demo.week [--workdir demo_week] [--until 2026-01-07] [--verbose]

This module only starts processes and reads the metadata DB (SQLite); it does not import Airflow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autobench import orchestration
from demo.fake_slack import as_text

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "week"
FIRST_DAY = dt.date(2026, 1, 5)
LAST_DAY = dt.date(2026, 1, 12)
DAILY = (("06:00", "leaderboard_monitor"), ("08:00", "experiment_sweep"))
MONDAYS = (("07:00", "research_ingest"), ("09:00", "weekly_digest"))
TRIGGER_DELAY = dt.timedelta(minutes=5)  # a triggered run starts this long after the run that raised its event
APPEND_ONLY = ("CHANGELOG.md", "research_log.md", "TECHNICAL_LOG.md")  # kept whole in the report, day by day
MARKER = ".autobench-demo"  # a workdir holding this is the demo's own: it is wiped on the next run
LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T[\d:.]+Z \[")  # Airflow's own log lines; what is left, the tasks printed
NOISE = ("You might need to install the graphviz package", "Run `pip install graphviz`",
         "the seed policy needs no more runs")


def calendar(first: dt.date = FIRST_DAY, last: dt.date = LAST_DAY) -> list[tuple[dt.datetime, str]]:
    """The scheduled runs, in time order."""
    runs = []
    day = first
    while day <= last:
        entries = DAILY + (MONDAYS if day.weekday() == 0 else ())
        for at, dag_id in entries:
            hour, minute = map(int, at.split(":"))
            runs.append((dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC), dag_id))
        day += dt.timedelta(days=1)
    return sorted(runs)


@dataclass
class RunRecord:
    dag_id: str
    at: str  # the logical date, ISO
    trigger: list[dict[str, Any]] | None  # the Asset events that started it (None: the calendar)
    state: str = "running"
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)  # what the tasks printed
    events: list[dict[str, Any]] = field(default_factory=list)  # Asset events it raised
    slack: list[int] = field(default_factory=list)  # indexes into the report's slack messages
    log: str = ""


class Week:
    """One replay. ``run()`` returns the report (also written to ``workdir/report.json``)."""

    def __init__(self, workdir: Path, *, first: dt.date = FIRST_DAY, last: dt.date = LAST_DAY,
                 verbose: bool = False, out: Callable[[str], None] | None = None, example: str = EXAMPLE,
                 schedule: list[tuple[dt.datetime, str]] | None = None) -> None:
        """``example`` and ``schedule`` (default: the week's calendar) let a benchmark replay other runs."""
        self.workdir = Path(workdir).resolve()
        self.example = example
        self.schedule = schedule if schedule is not None else calendar(first, last)
        self.home = self.workdir / "home"
        self.airflow_home = self.workdir / "airflow"
        self.logs = self.workdir / "logs"
        self.first, self.last = first, last
        self.verbose = verbose
        self._emit = out or (lambda line: print(line, flush=True))
        self.printed: list[str] = []  # everything shown, also written to workdir/output.txt
        self.site = self.slack = None
        self.env: dict[str, str] = {}
        self.last_event_id = 0
        self.runs: list[RunRecord] = []
        self.days: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []

    def out(self, line: str) -> None:
        self.printed.append(line)
        self._emit(line)

    # ------------------------------------------------------------------ set-up
    def prepare(self) -> None:
        from autobench.home import init
        from demo.fake_slack import FakeSlack
        from demo.site import DEFAULT_PORT, DemoSite

        if self.workdir.exists() and any(self.workdir.iterdir()):
            if not (self.workdir / MARKER).exists():
                raise SystemExit(f"{self.workdir} is not empty and not a previous demo's folder: "
                                 "pick another --workdir")
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        (self.workdir / MARKER).write_text("made by `make demo`; wiped by the next one\n")
        self.logs.mkdir()
        init(self.home, self.example)
        try:
            self.site = DemoSite(self.home, DEFAULT_PORT)
        except OSError:  # the example's port is taken: any free port, and the registry's urls follow it
            self.site = DemoSite(self.home, 0)
            registry = self.home / "competitive_registry.yaml"
            registry.write_text(registry.read_text().replace(f"http://127.0.0.1:{DEFAULT_PORT}/", f"{self.site.url}/"))
            self.out(f"(port {DEFAULT_PORT} is taken: the leaderboards are served on {self.site.url})")
        self.slack = FakeSlack()
        connection = {"conn_type": "slack", "password": "xoxb-demo-token",
                      "extra": {"channel": "#autobench-demo", "base_url": self.slack.url}}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AUTOBENCH_"))},
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_AUTOBENCH_SLACK": json.dumps(connection),
            "AUTOBENCH_HOME": str(self.home),
            "AUTOBENCH_RETRY_DELAY_SECONDS": "1",  # a task's one retry follows at once, not after 5 minutes
            "AUTOBENCH_ARXIV_URL": f"{self.site.url}/api/query",
            "AUTOBENCH_ARXIV_DELAY": "0",
            # one thread per training process: two threads on a busy two-core machine ran 20x slower
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        }
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            self.env.pop(var, None)
        self.airflow_home.mkdir()
        self._airflow("db", "migrate")
        self._airflow("pools", "import", str(REPO / "config" / "pools.json"))
        self._airflow("dags", "reserialize")  # the DAGs and their Asset schedules into the metadata DB
        self.consumers = self._consumers()

    def _airflow(self, *args: str) -> None:
        log = self.logs / "setup.log"
        with log.open("a") as fh:
            fh.write(f"$ airflow {' '.join(args)}\n")
            fh.flush()
            proc = subprocess.run([airflow_bin(), *args], env=self.env, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"`airflow {' '.join(args)}` failed: see {log}")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.airflow_home / "airflow.db", timeout=30)

    def _consumers(self) -> dict[str, list[str]]:
        """Asset URI -> the DAGs scheduled on it (the serialized DAGs' schedule references)."""
        with self._db() as db:
            rows = db.execute("SELECT a.uri, r.dag_id FROM dag_schedule_asset_reference r "
                              "JOIN asset a ON a.id = r.asset_id ORDER BY r.dag_id").fetchall()
        out: dict[str, list[str]] = {}
        for uri, dag_id in rows:
            out.setdefault(norm(uri), []).append(dag_id)
        return out

    def _new_events(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT e.id, a.uri, e.extra, e.source_dag_id, e.source_run_id FROM asset_event e "
                              "JOIN asset a ON a.id = e.asset_id WHERE e.id > ? ORDER BY e.id",
                              (self.last_event_id,)).fetchall()
        events = []
        for event_id, uri, extra, dag_id, dag_run_id in rows:
            self.last_event_id = max(self.last_event_id, event_id)
            events.append({"asset": norm(uri), "extra": json.loads(extra) if extra else {},
                           "source": f"{dag_id}/{dag_run_id}" if dag_id else None})
        return events

    # ------------------------------------------------------------------ runs
    def run_dag(self, dag_id: str, when: dt.datetime, trigger: list[dict[str, Any]] | None = None) -> RunRecord:
        record = RunRecord(dag_id, when.isoformat(), trigger)
        self.runs.append(record)
        log = self.logs / f"{when:%Y-%m-%dT%H%M}-{dag_id}.log"
        record.log = str(log.relative_to(self.workdir))
        cause = f"  [triggered by {', '.join(e['asset'] for e in trigger)}]" if trigger else ""
        self.out(f"  {when:%H:%M} {dag_id}{cause}")
        cmd = [airflow_bin(), "dags", "test", dag_id, when.isoformat(), "-f", str(REPO / "dags" / f"{dag_id}.py")]
        if trigger:  # the events' details under their Assets' keys, the last event of an Asset winning
            cmd += ["-c", json.dumps({orchestration.conf_key(e["asset"]): e["extra"] for e in trigger})]
        slack_before = len(self.slack.requests)
        t0 = time.perf_counter()
        with log.open("w") as fh:
            proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    bufsize=1)
            assert proc.stdout is not None
            for line in proc.stdout:
                fh.write(line)
                text = line.rstrip("\n")
                if self.verbose:
                    self.out(f"        | {text}")
                if LOG_LINE.match(text) or not text.strip() or text.startswith(NOISE):
                    continue
                record.lines.append(text)
                if not self.verbose:
                    self.out(f"        {text}")
            returncode = proc.wait()
        record.seconds = round(time.perf_counter() - t0, 2)
        record.state = run_state(log.read_text(errors="replace"), returncode)
        for request in self.slack.requests[slack_before:]:
            if request["path"] == "/api/chat.postMessage":
                record.slack.append(len(self.messages))
                self.messages.append({"run": len(self.runs) - 1, "dag_id": dag_id, "at": record.at,
                                      "text": as_text(request["body"]), "body": request["body"]})
            elif request["path"] == "/api/files.completeUploadExternal":
                files = json.loads(request["body"].get("files") or "[]")
                self.messages.append({"run": len(self.runs) - 1, "dag_id": dag_id, "at": record.at,
                                      "text": "[files] " + ", ".join(f.get("title") or f["id"] for f in files),
                                      "body": request["body"]})
        mark = "ok" if record.state == "success" else record.state.upper()
        slack = f", {len(record.slack)} Slack message(s)" if record.slack else ""
        self.out(f"        -> {mark} in {record.seconds:.0f} s{slack} (log: {record.log})")
        record.events = self._new_events()
        for event in record.events:
            consumers = self.consumers.get(event["asset"], [])
            details = orchestration.event_details(event["extra"])
            if consumers:
                self.out(f"        -> {event['asset']}{f' ({details})' if details else ''} "
                         f"starts {', '.join(consumers)}")
        self._follow(record.events, when)
        return record

    def _follow(self, events: list[dict[str, Any]], when: dt.datetime) -> None:
        """Start the runs those events trigger: one run per consumer DAG (as the scheduler
        queues events for a DAG and starts one run for them), in DAG id order."""
        by_dag: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            for dag_id in self.consumers.get(event["asset"], []):
                by_dag.setdefault(dag_id, []).append(event)
        at = when
        for dag_id, triggering in sorted(by_dag.items()):
            at += TRIGGER_DELAY
            self.run_dag(dag_id, at, triggering)

    # ------------------------------------------------------------------ days
    def validate(self) -> dict[str, Any]:
        cmd = [autobench_bin(), "validate", "--home", str(self.home)]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=300)
        return {"ok": proc.returncode == 0, "output": (proc.stdout + proc.stderr).strip()}

    def day(self, date: dt.date, entries: list[tuple[dt.datetime, str]]) -> dict[str, Any]:
        self.site.day = date.isoformat()
        self.out("")
        self.out(f"=== {date:%a %Y-%m-%d} " + "=" * 50)
        first = len(self.runs)
        for when, dag_id in entries:
            self.run_dag(dag_id, when)
        check = self.validate()
        self.out("  state: " + ("`autobench validate` passes" if check["ok"]
                                else "`autobench validate` FAILS:\n" + check["output"]))
        record = {"date": date.isoformat(), "runs": list(range(first, len(self.runs))), "validate": check,
                  "files": manifest(self.home), "queue": queue_statuses(self.home),
                  "logs": {name: (self.home / name).read_text() for name in APPEND_ONLY
                           if (self.home / name).exists()},
                  "gap_matrix": (json.loads(gap.read_text())
                                 if (gap := self.home / "state" / "gap_matrix.json").exists() else None)}
        self.days.append(record)
        return record

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        days = sorted({when.date() for when, _ in self.schedule})
        self.out(f"autobench demo: {days[0]} to {days[-1]} ({self.example} example) in {self.workdir}")
        try:
            self.prepare()
            setup = time.perf_counter() - t0
            self.out(f"leaderboards and arXiv on {self.site.url}, Slack on {self.slack.url} "
                     f"(set up in {setup:.0f} s)")
            entries = self.schedule
            for date in sorted({when.date() for when, _ in entries}):
                self.day(date, [e for e in entries if e[0].date() == date])
            report = self.report(time.perf_counter() - t0, setup)
            if any(r.dag_id == "weekly_digest" for r in self.runs):
                self.out("")
                self.show_digest()
            self.out("")
            self.out(self.summary(report))
            return report
        finally:
            for server in (self.site, self.slack):
                if server is not None:
                    server.close()
            if (self.workdir / MARKER).exists():
                (self.workdir / "output.txt").write_text("\n".join(self.printed) + "\n")

    # ------------------------------------------------------------------ report
    def report(self, seconds: float, setup: float) -> dict[str, Any]:
        report = {
            "workdir": str(self.workdir), "home": str(self.home), "first": self.first.isoformat(),
            "last": self.last.isoformat(), "seconds": round(seconds, 1), "setup_seconds": round(setup, 1),
            "runs": [asdict(r) for r in self.runs], "days": self.days, "slack": self.messages,
            "time": time_split(self.home, sum(r.seconds for r in self.runs)),
            "ok": all(r.state == "success" for r in self.runs) and all(d["validate"]["ok"] for d in self.days),
        }
        (self.workdir / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
        return report

    def show_digest(self) -> None:
        digests = [m for m in self.messages if m["dag_id"] == "weekly_digest"]
        last_digest_at = digests[-1]["at"] if digests else None
        shown = [m for m in digests if m["at"] == last_digest_at]
        if not shown:
            self.out("Slack received no digest.")
            return
        self.out(f"The digest as Slack received it ({last_digest_at}, {len(shown)} message(s)):")
        for message in shown:
            self.out("")
            for line in message["text"].splitlines():
                self.out("  | " + line)

    def summary(self, report: dict[str, Any]) -> str:
        statuses = queue_statuses(self.home)
        counts: dict[str, int] = {}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        split = report["time"]
        lines = [
            f"{len(self.runs)} DAG runs in {report['seconds']:.0f} s "
            f"({split['dag_run_seconds']:.0f} s in the runs, {report['setup_seconds']:.0f} s of set-up); "
            f"training {split['training_seconds']:.0f} s, "
            f"the experiments' processes {split['experiment_seconds']:.0f} s, "
            f"orchestration {split['orchestration_share']:.0%} of the runs' time",
            "hypotheses: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
            f"state: {self.home}  (browse it, or point `make run` at it with AUTOBENCH_HOME)",
            "every run and check passed" if report["ok"] else "SOMETHING FAILED: see the lines marked FAILED above",
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------------- helpers
def norm(uri: str) -> str:
    """Airflow stores ``autobench://urgent`` as ``autobench://urgent/``."""
    return uri.rstrip("/")


def airflow_bin() -> str:
    found = Path(sys.executable).with_name("airflow")
    return str(found) if found.exists() else "airflow"


def autobench_bin() -> str:
    found = Path(sys.executable).with_name("autobench")
    return str(found) if found.exists() else "autobench"


def run_state(log: str, returncode: int) -> str:
    """The DAG run's final state as `dags test` logged it."""
    found = re.findall(r"DagRun Finished: dag_id=\S+, .*?state=(\w+)", log)
    if found:
        return found[-1]
    return "success" if returncode == 0 else "failed"


def manifest(home: Path) -> dict[str, str]:
    """Every file of the state folder (the pages and feeds the demo serves aside) and its sha256."""
    out = {}
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home).as_posix()
        if path.is_file() and not rel.startswith(("pages/", "feeds/")) and not path.name.endswith(".lock"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def queue_statuses(home: Path) -> dict[str, str]:
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    return {h.id: h.status for h in StateStore(home).load(QUEUE).hypotheses}


def time_split(home: Path, dag_run_seconds: float) -> dict[str, float]:
    """Where the runs' time went: training (each run's ``train_seconds``), the experiments'
    processes (each run's ``wall_seconds``: start, training, evaluation, latency, retries) and
    the rest, orchestration (Airflow, state I/O, statistics, scraping, reports). Runs adopted
    from the cache under another id are counted once, where they ran."""
    from autobench.experiments import results

    training = experiment = 0.0
    runs = 0
    for run in results.all_runs(home):
        record = results.run_record(run.path)
        if record is None or results.adopted(run, record):
            continue  # not run yet, or adopted from another experiment id's cache
        runs += 1
        experiment += float(record.get("wall_seconds") or 0.0)
        metrics = results.read_json(run.path / results.METRICS)
        if isinstance(metrics, dict):
            training += float(metrics.get("train_seconds") or 0.0)
    orchestration = max(dag_run_seconds - experiment, 0.0)
    return {"dag_run_seconds": round(dag_run_seconds, 1), "experiment_runs": runs,
            "training_seconds": round(training, 1), "experiment_seconds": round(experiment, 1),
            "orchestration_seconds": round(orchestration, 1),
            "orchestration_share": round(orchestration / dag_run_seconds, 4) if dag_run_seconds else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.week", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="demo_week",
                        help="where the state, Airflow's DB and the logs go (wiped first)")
    parser.add_argument("--until", type=dt.date.fromisoformat, default=LAST_DAY,
                        help=f"last day to replay (default {LAST_DAY})")
    parser.add_argument("--verbose", action="store_true", help="every log line of every run")
    args = parser.parse_args(argv)
    if not FIRST_DAY <= args.until <= LAST_DAY:
        parser.error(f"--until must be between {FIRST_DAY} and {LAST_DAY}")
    report = Week(Path(args.workdir), last=args.until, verbose=args.verbose).run()
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
