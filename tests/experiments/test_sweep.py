"""The experiment sweep on the CPU with a synthetic solution whose effects are known."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import REPO, loopback, run_cli

from autobench.clock import parse_now
from autobench.errors import AutobenchError
from autobench.experiments.backends.base import ExperimentBackend
from autobench.experiments.defence import defend
from autobench.experiments.pick import prepare
from autobench.experiments.sweep import backend_for, cycle, next_round
from autobench.schemas import QUEUE, REGISTRY, SWEEP, URGENCY
from autobench.store import StateStore

TESTS = str(REPO / "tests")
FAKE_TORCH = str(REPO / "tests" / "fake_torch")  # the synthetic solution needs no torch: children start fast
NOW = parse_now("2026-01-05T08:00:00Z")
HYPOTHESES = [
    ("H-001", "A real gain", {"gain": 0.02}, 0.02),
    ("H-002", "Breaks the model", {"mode": "raise"}, 0.015),
    ("H-003", "Returns NaN", {"mode": "nan"}, 0.012),
    ("H-004", "Does nothing", {"variant": 1}, 0.01),
]


def synthetic_home(store: StateStore, hypotheses=HYPOTHESES) -> StateStore:
    with store.edit(REGISTRY) as doc:
        ours = doc["our_solution"]
        ours["solution"] = "solutions:synthetic"
        ours["config"] = {"base": 0.8, "noise": 0.002}
        doc["experiments"]["fast_subset"] = 0.5
    with store.edit(QUEUE) as doc:
        doc["hypotheses"] = [
            {"id": hid, "title": title, "claim": "", "source": "test", "target_leaderboards": ["MemoryBench"],
             "implementation": {"change": title, "effort": "Low", "estimated_gain": gain, "config_patch": patch},
             "priority_score": 100 * gain, "status": "queued"}
            for hid, title, patch, gain in hypotheses]
    return store


@pytest.fixture
def synth(store, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([FAKE_TORCH, TESTS, os.environ.get("PYTHONPATH", "")]))
    return synthetic_home(store)


def decided(*args, **kwargs) -> dict:
    """A one-decision sweep's decision (``{"hypothesis": None, …}`` when it decided nothing)."""
    result = cycle(*args, **kwargs)
    assert len(result["decisions"]) <= 1, result
    return {**result["decisions"][0], "stopped": result["stopped"]} if result["decisions"] else \
        {"hypothesis": None, **result}


def expire_leases(store) -> None:
    """As if every running hypothesis's sweep had died hours ago."""
    with store.edit(SWEEP) as doc:
        for entry in doc.get("running", {}).values():
            entry["lease"] = "2000-01-01T00:00:00Z"


def status(store, hid):
    return next(h.status for h in store.load(QUEUE).hypotheses if h.id == hid)


def test_a_real_gain_is_promoted_with_its_five_criteria(synth):
    store = synth
    result = decided(store, NOW, "s1", defence=False)
    assert result["hypothesis"] == "H-001" and result["decision"] == "promote"
    assert [c["name"] for c in result["criteria"]] == ["improvement", "significance", "regression", "reproducibility",
                                                       "projection"]
    assert all(c["passed"] for c in result["criteria"])
    assert result["runs"] == 4  # one fast + three full; production's runs come from its own folder
    assert status(store, "H-001") == "promoted"
    assert store.load(REGISTRY).our_solution.config == {"base": 0.8, "noise": 0.002, "gain": 0.02}
    folder = store.home / "experiments/results/H-001"
    evaluation = json.loads(next(folder.glob("*/eval_on_leaderboard.json")).read_text())
    assert evaluation["split"] == "test" and evaluation["metrics"]["accuracy"] < 0.83  # the harder split, once
    report = next(folder.glob("*/BENCHMARK_REPORT.md")).read_text()
    for heading in ("# Benchmark Report", "## Summary", "## Results Table", "## Statistical Analysis",
                    "## Configuration Details", "## Failure Log", "## Reproduction Instructions"):
        assert heading in report
    assert store.load(SWEEP).running == {}


def test_broken_nan_and_useless_hypotheses(synth):
    store = synth
    with store.edit(QUEUE) as doc:
        doc["hypotheses"][0]["status"] = "superseded"  # take the real gain out of the way
    crashed = decided(store, NOW, "s2", defence=False)
    assert crashed["hypothesis"] == "H-002" and crashed["status"] == "failed" and crashed["runs"] == 1
    assert "failed twice" in crashed["reason"] and "no more compute" in crashed["reason"]
    assert list((store.home / "experiments/archived").glob("H-002-*.md"))
    nan = decided(store, NOW, "s3", defence=False)
    assert nan["hypothesis"] == "H-003" and nan["status"] == "failed" and "NaN" in nan["reason"]
    useless = decided(store, NOW, "s4", defence=False)
    assert useless["hypothesis"] == "H-004" and useless["decision"] == "reject" and useless["status"] == "rejected"
    failed = {c["name"] for c in useless["criteria"] if not c["passed"]}
    assert "improvement" in failed
    assert decided(store, NOW, "s5", defence=False)["hypothesis"] is None  # the queue is empty


def test_a_second_sweep_runs_nothing_twice(synth):
    store = synth
    cycle(store, NOW, "s1", defence=False)
    files = {p for p in (store.home / "experiments/results").rglob("metrics.json")}
    with store.edit(QUEUE) as doc:  # ask for the same hypothesis again as if it were new
        doc["hypotheses"][0]["status"] = "queued"
    # its config is production's now: every run it needs is in the cache
    store2 = StateStore(store.home)
    pick = prepare(store2, NOW, "s6", hypothesis="H-001")
    assert next_round(store2, NOW, pick).requests == []  # its promotion is on record: nothing to run
    assert decided(store2, NOW, "s6", defence=False)["decision"] == "promote"
    after = {p for p in (store.home / "experiments/results").rglob("metrics.json")}
    assert after - files <= {p for p in after if "production" in p.parts}  # only adoptions, no new training


def test_a_stale_running_hypothesis_is_recovered(synth):
    store = synth
    pick = prepare(store, NOW, "crashed-run")
    assert status(store, pick.hypothesis) == "running"
    # that sweep's worker died; the next sweep finds it running, its lease expired
    expire_leases(store)
    again = prepare(store, NOW, "next-run")
    assert again.hypothesis == pick.hypothesis and again.dag_run_id == "next-run"
    h = next(h for h in store.load(QUEUE).hypotheses if h.id == pick.hypothesis)
    assert any("recovered: its sweep (crashed-run) ended without a decision" in n for n in h.notes)
    # a retried task of the same sweep keeps its pick
    assert prepare(store, NOW, "next-run").hypothesis == pick.hypothesis


def test_urgency_reranks_and_the_budget_holds_back_the_backlog(synth):
    store = synth
    with store.edit(QUEUE) as doc:
        doc["hypotheses"][3]["target_leaderboards"] = ["LongContextEval"]
    store.write(URGENCY, {"leaderboards": {"LongContextEval": {"reason": "rank_dropped", "multiplier": 3.0,
                                                                 "since": "2026-01-05T06:00:00Z"}}})
    pick = prepare(store, NOW, "u1")
    assert pick.hypothesis == "H-004"  # 1.0 × 3 beats 2.0: urgent first
    # today's budget spent: urgent work still runs, the rest waits for tomorrow's budget
    with store.edit(SWEEP) as doc:
        doc["gpu_seconds"] = {"2026-01-05": 8 * 3600.0}
    expire_leases(store)
    assert prepare(store, NOW, "u2").hypothesis == "H-004"  # the stale pick recovered, still urgent
    store.write(URGENCY, {"leaderboards": {}})
    assert prepare(store, NOW, "u3") is None
    assert prepare(store, parse_now("2026-01-06T08:00:00Z"), "u4") is not None  # a new day, a new budget


def test_defence_alerts_on_a_regression_beyond_noise_and_names_the_cause(synth, monkeypatch):
    store = synth
    monkeypatch.setenv("AUTOBENCH_IMAGE", "autobench-experiment:0.1.0")
    from autobench.experiments.config import spec_for
    from autobench.experiments.runner import run_seeds

    spec = spec_for(store, "production")
    run_seeds(store.home, spec, [1, 2, 3, 4, 5, 6])
    checks = [defend(store, NOW, f"d{i}") for i in range(3)]
    assert not any(c["regressed"] for c in checks) and checks[-1]["p_value"] is not None
    # a new image ships and production loses 0.02 on fresh seeds (same config, same hash)
    monkeypatch.setenv("AUTOBENCH_IMAGE", "autobench-experiment:0.2.0")
    monkeypatch.setenv("AUTOBENCH_TEST_DRIFT", "1")
    checks = [defend(store, NOW, f"e{i}") for i in range(3)]
    assert [c["regressed"] for c in checks] == [False, False, True]  # not a single low run: the window of three
    assert "Production regressed on accuracy" in checks[-1]["alert"]
    assert "image" in checks[-1]["alert"] and "autobench-experiment:0.2.0" in checks[-1]["alert"]
    assert defend(store, NOW, "e2") == checks[-1]  # a retried task checks nothing twice


class Board(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        Board.received.append((self.headers.get("Authorization"),
                               json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
        body = b'{"accepted": true}'
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_promotion_is_submitted_to_a_leaderboard_that_accepts_it(synth, monkeypatch):
    store = synth
    server = ThreadingHTTPServer(("127.0.0.1", 0), Board)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with store.edit(REGISTRY) as doc:
            doc["target_leaderboards"][0]["submission"] = {"url": f"http://127.0.0.1:{server.server_address[1]}/submit"}
        monkeypatch.setenv("AUTOBENCH_SUBMISSION_TOKEN", "t0k3n")
        result = decided(store, NOW, "p1", defence=False)
        assert result["decision"] == "promote" and result["submissions"][0]["ok"] is True
        auth, payload = Board.received[-1]
        assert auth == "Bearer t0k3n" and payload["hypothesis"] == "H-001" and payload["scores"]["accuracy"] > 0
        assert "t0k3n" not in (store.home / "competitive_registry.yaml").read_text()
    finally:
        server.shutdown()
        server.server_close()


def test_sweep_command_json(synth):
    store = synth
    proc = run_cli("sweep", "--json", "--no-defence", "--now", "2026-01-05T08:00:00Z", home=store.home, check=True,
                   timeout=300)
    out = json.loads(proc.stdout)
    assert set(out) == {"decisions", "stopped"} and out["stopped"] == "limit reached"  # the default: one decision
    (one,) = out["decisions"]
    assert set(one) >= {"hypothesis", "decision", "runs", "criteria", "report"}
    assert one["hypothesis"] == "H-001" and Path(store.home / one["report"]).exists()


def _metrics(home: Path) -> dict[str, dict]:
    """Every run's metrics under the results, keyed by its path below experiments/results."""
    root = home / "experiments/results"
    return {str(p.parent.relative_to(root)): json.loads(p.read_text()) for p in sorted(root.rglob("metrics.json"))}


def test_seeds_per_task_trains_a_configs_seeds_in_one_process_with_the_same_results(synth, tmp_path, monkeypatch):
    """experiments.local.seeds_per_task: the sweep packs the full seeds of each config into one
    run; the batched variant trains them in one process; every seed ends as it would alone."""
    import shutil

    from autobench.experiments.backends.base import is_batch

    alone = StateStore(shutil.copytree(synth.home, tmp_path / "alone"))
    with synth.edit(REGISTRY) as doc:
        doc["experiments"]["local"] = {"seeds_per_task": 3}
    batch_log = tmp_path / "batches.log"
    monkeypatch.setenv("AUTOBENCH_TEST_BATCH_LOG", str(batch_log))
    lines: list[str] = []
    batched = decided(synth, NOW, "s1", hypothesis="H-001", defence=False, progress=lines.append)
    single = decided(alone, NOW, "s1", hypothesis="H-001", defence=False)
    assert batched["decision"] == single["decision"] == "promote"
    assert batched["criteria"] == single["criteria"]
    assert batched["runs"] == single["runs"] == 4
    # the same runs with the same metrics, seed by seed
    assert _metrics(synth.home) == _metrics(alone.home) and len(_metrics(synth.home)) >= 4
    # H-001's three full seeds shared one process, and production's three (it has no runs of the
    # synthetic solution yet) another
    calls = [line.split() for line in batch_log.read_text().splitlines()]
    assert [seeds for _, seeds in calls] == ["1,2,3", "1,2,3"] and calls[0][0] != calls[1][0]
    full = sorted((synth.home / "experiments/results/H-001").glob("*/full/seed_*/config.yaml"))
    assert len(full) == 3 and all("batched:" in p.read_text() for p in full)
    assert any("[batch] 3 seeds in" in line for line in lines)
    assert any(line.startswith("H-001 full seed 2: accuracy=") for line in lines)
    # the plan the DAG maps over: a batch per config, the fast run alone
    with synth.edit(QUEUE) as doc:
        doc["hypotheses"][3]["status"] = "queued"
    pick = prepare(synth, NOW, "s2", hypothesis="H-004")
    backend = backend_for(synth, pick)
    first = next_round(synth, NOW, pick)  # the fast runs: one seed each, nothing to batch
    assert first.executor == "task" and first.payloads == first.requests
    assert [(r["experiment_id"], r["mode"], is_batch(r)) for r in first.requests] == [("H-004", "fast", False),
                                                                                    ("production", "fast", False)]
    for payload in first.payloads:
        assert backend.run(payload, synth.home)["error"] is None
    second = next_round(synth, NOW, pick).payloads
    assert [(r["experiment_id"], r.get("seeds")) for r in second] == [("H-004", [1, 2, 3]), ("production", [1, 2, 3])]
    out = backend.run(second[0], synth.home)
    assert out["error"] is None and sorted(out["results"]) == ["1", "2", "3"]
    assert not out["cached"] and out["seconds"] > 0
    assert backend.run(second[0], synth.home)["cached"] is True  # a retried task trains nothing twice
    # production's config is H-001's now: its seeds come from H-001's runs, no batch trained
    before = len(batch_log.read_text().splitlines())
    prod = backend.run(second[1], synth.home)
    assert prod["cached"] is True and all(r["metrics"] for r in prod["results"].values())
    assert len(batch_log.read_text().splitlines()) == before


def test_a_batch_that_crashes_falls_back_to_one_seed_at_a_time_and_is_recorded_as_failed(synth, tmp_path, monkeypatch):
    with synth.edit(REGISTRY) as doc:
        doc["experiments"]["local"] = {"seeds_per_task": 3}
    with synth.edit(QUEUE) as doc:
        doc["hypotheses"][1]["implementation"]["config_patch"] = {"mode": "raise_full"}
    batch_log = tmp_path / "batches.log"
    monkeypatch.setenv("AUTOBENCH_TEST_BATCH_LOG", str(batch_log))
    lines: list[str] = []
    result = decided(synth, NOW, "s1", hypothesis="H-002", defence=False, progress=lines.append)
    assert result["status"] == "failed" and "failed twice" in result["reason"]
    assert any("batch of seeds [1, 2, 3] failed (RuntimeError: synthetic: the patched layer" in line for line in lines)
    seeds = sorted((synth.home / "experiments/results/H-002").glob("*/full/seed_*"))
    assert [p.name for p in seeds] == ["seed_1", "seed_2", "seed_3"]
    for folder in seeds:  # each seed was retried once on its own after the batch failed
        failure = json.loads((folder / "failure.json").read_text())
        assert len(failure["attempts"]) == 2 and "patched layer" in failure["attempts"][-1]
        assert not (folder / "metrics.json").exists()
    assert batch_log.read_text().split()[1] == "1,2,3"  # the batch ran (and crashed) once
    assert synth.load(SWEEP).gpu_seconds  # the failed batch's time counts against the budget


class EchoingBoard(BaseHTTPRequestHandler):
    """A leaderboard that refuses the submission and quotes the credentials back."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = f"invalid credentials: {self.headers.get('Authorization')!r}".encode()
        self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_refused_submission_never_records_the_token(synth, monkeypatch):
    """A token pasted with a newline is stripped; an answer that quotes it is recorded redacted."""
    store = synth
    with loopback(EchoingBoard) as server:
        with store.edit(REGISTRY) as doc:
            doc["target_leaderboards"][0]["submission"] = {"url": f"{server.base}/submit"}
        monkeypatch.setenv("AUTOBENCH_SUBMISSION_TOKEN", "s3cret-SUBMIT-token\n")
        result = decided(store, NOW, "p1", defence=False)
    refused = result["submissions"][0]
    assert refused["ok"] is False and refused["status"] == 401
    assert refused["answer"] == "invalid credentials: '***'"  # "Bearer s3cret-SUBMIT-token" as sent
    recorded = next((store.home / "experiments/results/H-001").glob("*/submissions.json")).read_text()
    assert "s3cret" not in recorded and "s3cret" not in json.dumps(result)


def test_a_key_never_shows_in_a_fetch_error():
    """requests quotes a header value it refuses (a pasted newline); a server may echo a key."""
    from autobench import net

    class Refuses(BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"bad key {self.headers.get('x-api-key')} for {self.path}".encode()
            self.send_response(403)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with loopback(Refuses) as server:
        errors = []
        for kwargs in ({"headers": {"x-api-key": "S2-SECRET-KEY-123\n"}},
                       {"headers": {"x-api-key": "S2-SECRET-KEY-123"}},
                       {"params": {"api_key": "S2-SECRET-KEY-123"}}):
            with pytest.raises(net.NetError) as caught:
                net.get(f"{server.base}/paper", what="s2", user_agent="test", retries=0, **kwargs)
            errors.append(caught.value)
    for exc in errors:
        shown = " ".join([str(exc), exc.url, exc.reason, exc.body.decode(), str(exc.cause or "")])
        assert "S2-SECRET" not in shown and "***" in shown, shown
        assert exc.__cause__ is None  # no chained traceback quoting it either
    assert "InvalidHeader" in str(errors[0])


def test_a_retried_collect_counts_a_pods_time_once(synth):
    """Pods' metrics come back through XCom; collecting them again (a retried task) must not
    spend today's GPU budget twice, whether or not the pod shared the volume."""
    from autobench.experiments import results
    from autobench.experiments.sweep import collect

    pick = prepare(synth, NOW, "k1", hypothesis="H-001", backend="kubernetes")
    step = next_round(synth, NOW, pick)
    assert step.executor == "pod" and [p["name"] for p in step.payloads] == ["autobench-h-001-s1-fast",
                                                                              "autobench-production-s1-fast"]
    fast, prod_fast = step.requests
    metrics = {"accuracy": 0.7, "latency_ms": 1.0, "memory_mb": 10.0, "train_seconds": 1800.0}
    xcom = {"exit_code": 0, "seeds": {"1": {"metrics": metrics, "failure": None}}}
    for _ in range(2):
        out = collect(synth, NOW, pick, [fast], [xcom])
        assert out[0]["metrics"] == metrics and out[0]["error"] is None
    assert synth.load(SWEEP).gpu_seconds == {"2026-01-05": 1800.0}
    assert results.runs(synth.home, "H-001", fast["config_hash"], "fast")[0] == {1: metrics}  # written beside the runs
    # a shared volume: the pod wrote metrics.json itself; the collect still counts it, once
    folder = results.run_folder(synth.home, "production", prod_fast["config_hash"], "fast", 1)
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    collect(synth, NOW, pick, [prod_fast], [xcom])
    collect(synth, NOW, pick, [prod_fast], [xcom])
    assert synth.load(SWEEP).gpu_seconds == {"2026-01-05": 3600.0}
    # a pod that pushed nothing: a failure on record, which decide reads as a failed seed
    failed = collect(synth, NOW, pick, [{**fast, "seed": 2}], [None])
    assert failed[0]["error"] == "the pod pushed no result"
    assert results.runs(synth.home, "H-001", fast["config_hash"], "fast")[1] == {2: "the pod pushed no result"}
    proc = run_cli("validate", "--json", home=synth.home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the command line runs no pods
    with pytest.raises(AutobenchError, match="kubernetes backend's runs are pods"):
        cycle(synth, NOW, "k2", backend="kubernetes")


def test_the_benchmark_report_escapes_what_came_from_the_web(synth):
    """A hypothesis title from a paper (web text) and a config's own backticks are shown, not formatted."""
    import re

    with synth.edit(QUEUE) as doc:
        doc["hypotheses"][1]["title"] = "[click me](https://evil.example) <!channel> *bold*"
        doc["hypotheses"][1]["implementation"]["config_patch"] = {"mode": "raise", "note": "```\n# not a heading"}
    result = decided(synth, NOW, "s1", hypothesis="H-002", defence=False)
    report = (synth.home / result["report"]).read_text()
    task = next(line for line in report.splitlines() if line.startswith("**Task:**"))
    assert not re.search(r"(?<!\\)\]\(", task) and "\\[click me\\]" in task and "\\*bold\\*" in task
    config = report.split("## Configuration Details")[1].split("## Failure Log")[0]
    assert config.strip().startswith("````yaml") and config.strip().endswith("````")  # longer than the config's ```
    failure_log = report.split("## Failure Log")[1].split("## Reproduction Instructions")[0]
    assert "patched layer does not exist" in failure_log
    assert not any(line.startswith("#") for line in failure_log.splitlines())


# ----------------------------------------------------------------------------- a backend of our own


class InProcessBackend(ExperimentBackend):
    """A backend defined here, not in the package: each run in this process through the runner
    (one seed at a time), registered at run time. The sweep must take it the way it takes `local`."""

    name = "inprocess"
    executor = "task"
    runs: list[str] = []  # every run, whichever instance ran it (the sweep builds one per step); the test clears it

    def submit(self, requests):
        return [{"request": dict(r), "ticket": i} for i, r in enumerate(requests)]  # a payload of its own shape

    def run(self, payload, home, *, progress=None):
        from autobench.experiments.backends.base import check_request, relative_folder
        from autobench.experiments.runner import RunFailed, run_seed, spec_from_mapping

        req = check_request(payload["request"])
        spec = spec_from_mapping(req["experiment_id"], req["spec"], "in-process request")
        out = {**{k: req[k] for k in ("experiment_id", "seed", "mode", "config_hash")},
               "folder": relative_folder(req, req["seed"]), "metrics": None, "error": None,
               "cached": False, "seconds": 0.0}
        type(self).runs.append(f"{req['experiment_id']} {req['mode']} {req['seed']}")
        try:
            result = run_seed(home, spec, req["seed"], fast=req["mode"] == "fast")
            out.update(metrics=result.metrics, cached=result.cached, seconds=0.0 if result.cached else result.seconds)
        except RunFailed as exc:
            out["error"] = str(exc)
        return out

    def collect(self, requests, outputs, home):
        return [dict(o) for o in outputs]


def test_a_backend_defined_in_the_tests_runs_a_sweep_end_to_end(synth):
    """A new backend is one class and one registry line: the registry schema accepts its name,
    the sweep submits to it, runs its payloads and collects its results, and decide reads them."""
    from autobench.experiments import backends

    backend = InProcessBackend
    backend.runs = []  # this run's alone, however many times the test runs in one process
    backends.REGISTRY.register("inprocess", backend)
    try:
        with synth.edit(REGISTRY) as doc:
            doc["experiments"]["backend"] = "inprocess"  # validated against the registry of backends
        lines: list[str] = []
        result = decided(synth, NOW, "b1", defence=False, progress=lines.append)
        assert result["hypothesis"] == "H-001" and result["decision"] == "promote" and result["runs"] == 4
        assert backend.runs == ["H-001 fast 1", "production fast 1", "H-001 full 1", "H-001 full 2", "H-001 full 3",
                                "production full 1", "production full 2", "production full 3"]
        assert any(line.startswith("H-001 full seed 3: accuracy=") for line in lines)
        assert synth.load(SWEEP).gpu_seconds["2026-01-05"] > 0  # its runs' time, counted once
        decision = json.loads(next((synth.home / "experiments/results/H-001").glob("*/decision.json")).read_text())
        assert decision["evidence"]["seeds"] == [1, 2, 3]
    finally:
        backends.REGISTRY.unregister("inprocess")
    with pytest.raises(Exception, match="unknown experiment backend 'inprocess'"):
        synth.load(REGISTRY)  # once unregistered, the name is refused again


def test_a_sweep_confirms_one_winner_and_rolls_back_one_that_held_only_on_its_selection_seeds(synth):
    """experiments.confirmation_seeds 3: each promotion stays in flight one more round, both
    configs on three fresh seeds; the one whose gain does not hold there is rolled back."""
    with synth.edit(REGISTRY) as doc:
        doc["experiments"]["confirmation_seeds"] = 3
        doc["experiments"]["max_hypotheses_per_sweep"] = 2
    with synth.edit(QUEUE) as doc:
        doc["hypotheses"][0]["implementation"]["config_patch"] = {"gain": 0.02}
        doc["hypotheses"][1]["implementation"]["config_patch"] = {"width": 2, "gain": 0.04, "gain_seeds": [1, 2, 3]}
        del doc["hypotheses"][2:]
    before = synth.load(REGISTRY).our_solution
    result = cycle(synth, NOW, "manual__confirm", defence=False)

    by_id = {d["hypothesis"]: d for d in result["decisions"]}
    assert by_id["H-001"]["status"] == "promoted" and by_id["H-001"]["confirmation"]["outcome"] == "confirmed"
    assert by_id["H-001"]["confirmation"]["seeds"] == [4, 5, 6]
    assert by_id["H-001"]["eval_on_leaderboard"]  # the test split waits for the confirmation, then runs once
    assert by_id["H-002"]["status"] == "rolled_back"
    assert by_id["H-002"]["alert"].startswith("[ALERT] Promotion of H-002")
    assert "eval_on_leaderboard" not in by_id["H-002"]
    assert status(synth, "H-001") == "promoted" and status(synth, "H-002") == "rolled_back"
    ours = synth.load(REGISTRY).our_solution
    assert ours.config == {**before.config, "gain": 0.02}  # H-001's config, H-002's rolled back
    confirmed = by_id["H-001"]["confirmation"]["gain"]
    assert confirmed == pytest.approx(0.02, abs=0.004)
    means = by_id["H-001"]["confirmation"]["winner_means"]
    assert ours.current_scores["MemoryBench"] == pytest.approx(means["accuracy"], abs=1e-6)
    changelog = (synth.home / "CHANGELOG.md").read_text()
    assert "confirmed H-001" in changelog and f"{confirmed:+.4f} over 3 fresh seeds" in changelog
    assert "rolled back H-002" in changelog
    assert synth.load(SWEEP).running == {}  # nothing left held by the finished sweep
