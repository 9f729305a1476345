"""The experiment engine at team scale: several hypotheses per sweep, several in flight,
overlapping sweeps, per-hypothesis stale recovery, one run per production seed.

The synthetic solution (tests/solutions.py) with the fake torch, so every run takes a second.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import autobench_cmd, run_cli
from test_sweep import FAKE_TORCH, NOW, TESTS, synthetic_home

from autobench.experiments import pick as pick_module
from autobench.experiments.config import spec_for
from autobench.experiments.pick import pick_many, prepare
from autobench.experiments.runner import run_seed
from autobench.experiments.sweep import cycle
from autobench.schemas import QUEUE, REGISTRY, SWEEP, URGENCY
from autobench.store import StateStore


@pytest.fixture
def synth(store, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([FAKE_TORCH, TESTS, os.environ.get("PYTHONPATH", "")]))
    return synthetic_home(store)


def statuses(store) -> dict[str, str]:
    return {h.id: h.status for h in store.load(QUEUE).hypotheses}


def test_overlapping_sweeps_never_pick_the_same_hypothesis(synth):
    """Two sweeps start at once against one home (each its own store, as two workers would),
    each asking for two picks: four different hypotheses, each running under the sweep that
    picked it, and nothing lost from either update."""
    home = synth.home
    start = threading.Barrier(2)
    got: dict[str, list[str]] = {}

    def sweep(run_id: str) -> None:
        store = StateStore(home)
        start.wait()
        picks, _ = pick_many(store, NOW, run_id, 2)
        got[run_id] = [p.hypothesis for p in picks]

    threads = [threading.Thread(target=sweep, args=(r,)) for r in ("daily", "urgent")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got["daily"]) == len(got["urgent"]) == 2
    assert not set(got["daily"]) & set(got["urgent"])
    assert statuses(synth) == dict.fromkeys(["H-001", "H-002", "H-003", "H-004"], "running")
    running = synth.load(SWEEP).running
    assert {hid: e.run_id for hid, e in running.items()} == {
        **dict.fromkeys(got["daily"], "daily"), **dict.fromkeys(got["urgent"], "urgent")}
    # a retried pick of either sweep gets its own picks back, and a third sweep finds nothing
    assert [p.hypothesis for p in pick_many(StateStore(home), NOW, "daily", 2)[0]] == got["daily"]
    assert pick_many(StateStore(home), NOW, "third", 2) == ([], "queue empty")


def test_a_live_sweeps_hypothesis_is_not_recovered_and_an_expired_one_is(synth, monkeypatch):
    store = synth
    clock = [dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)]
    monkeypatch.setattr(pick_module, "wall_clock", lambda: clock[0])
    assert prepare(store, NOW, "a").hypothesis == "H-001"
    # another sweep while "a" is alive: it takes the next one, H-001 stays with "a"
    assert prepare(store, NOW, "b").hypothesis == "H-002"
    assert store.load(SWEEP).running["H-001"].run_id == "a"
    assert not any("recovered" in n for h in store.load(QUEUE).hypotheses for n in h.notes)
    # "a" renews its lease with each step; 100 + 100 minutes later it is still alive
    clock[0] += dt.timedelta(minutes=100)
    pick_module.renew(store, "a")
    clock[0] += dt.timedelta(minutes=100)
    assert prepare(store, NOW, "c").hypothesis == "H-002"  # "b" (200 min silent) recovered, "a" kept
    queue = {h.id: h for h in store.load(QUEUE).hypotheses}
    running = store.load(SWEEP).running
    assert queue["H-001"].status == "running" and running["H-001"].run_id == "a" and running["H-002"].run_id == "c"
    assert any("recovered: its sweep (b) ended without a decision" in n for n in queue["H-002"].notes)
    # "a" dies: once its lease is older than experiments.stale_after_minutes, H-001 goes to the next sweep
    clock[0] += dt.timedelta(minutes=121)
    assert prepare(store, NOW, "d").hypothesis == "H-001"
    assert any("recovered: its sweep (a) ended without a decision" in n
               for n in next(h for h in store.load(QUEUE).hypotheses if h.id == "H-001").notes)
    assert prepare(store, NOW, "d").hypothesis == "H-001"  # a retried task keeps its pick


def test_one_production_seed_needed_by_two_at_once_runs_once(synth, tmp_path, monkeypatch):
    """Two callers (two hypotheses' rounds) ask for production's seed 7 at the same moment: the
    solution trains once, the second caller waits and gets the first one's result, cached."""
    log = tmp_path / "runs.log"
    monkeypatch.setenv("AUTOBENCH_TEST_RUN_LOG", str(log))
    monkeypatch.setenv("AUTOBENCH_TEST_RUN_SLEEP", "1.5")
    spec = spec_for(synth, "production")
    start = threading.Barrier(2)
    out: list = []

    def run() -> None:
        start.wait()
        out.append(run_seed(synth.home, spec, 7))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(out) == 2
    assert len(log.read_text().splitlines()) == 1  # trained once
    assert out[0].metrics == out[1].metrics and out[0].folder == out[1].folder
    assert sorted(r.cached for r in out) == [False, True]


def test_a_sweep_stops_at_the_budget_and_says_so(synth):
    store = synth
    with store.edit(REGISTRY) as doc:
        doc["experiments"]["max_hypotheses_per_sweep"] = 10
    with store.edit(SWEEP) as doc:
        doc["gpu_seconds"] = {"2026-01-05": 8 * 3600.0}
    result = cycle(store, NOW, "spent", defence=False)
    assert result == {"decisions": [], "stopped": "budget spent"}
    # urgent work still runs: the one urgent hypothesis is decided, then the sweep stops
    with store.edit(QUEUE) as doc:
        doc["hypotheses"][3]["target_leaderboards"] = ["LongContextEval"]
    store.write(URGENCY, {"leaderboards": {"LongContextEval": {"reason": "rank_dropped", "multiplier": 3.0,
                                                                 "since": "2026-01-05T06:00:00Z"}}})
    result = cycle(store, NOW, "urgent", defence=False)
    assert [d["hypothesis"] for d in result["decisions"]] == ["H-004"] and result["stopped"] == "budget spent"
    assert statuses(store)["H-001"] == "queued"


def test_sweep_json_decides_the_queue_two_at_a_time_as_one_at_a_time(synth, tmp_path):
    """max_parallel_hypotheses 2, max_hypotheses_per_sweep 10: one CLI sweep decides every
    hypothesis, with the decisions that four one-decision sweeps make."""
    one_by_one = StateStore(shutil.copytree(synth.home, tmp_path / "one_by_one"))
    with synth.edit(REGISTRY) as doc:
        doc["experiments"]["max_parallel_hypotheses"] = 2
        doc["experiments"]["max_hypotheses_per_sweep"] = 10
    proc = run_cli("sweep", "--json", "--no-defence", "--now", "2026-01-05T08:00:00Z", home=synth.home, check=True,
                   timeout=600)
    out = json.loads(proc.stdout)
    assert set(out) == {"decisions", "stopped"} and out["stopped"] == "queue empty"
    for one in out["decisions"]:
        assert set(one) >= {"hypothesis", "decision", "runs", "criteria", "report"}
        assert Path(synth.home / one["report"]).exists()
    together = {d["hypothesis"]: (d["decision"], d["status"], d["runs"]) for d in out["decisions"]}
    assert sorted(together) == ["H-001", "H-002", "H-003", "H-004"]
    alone = {}
    for i in range(4):
        result = cycle(one_by_one, NOW, f"s{i}", defence=False)
        assert result["stopped"] == "limit reached"
        (d,) = result["decisions"]
        alone[d["hypothesis"]] = (d["decision"], d["status"], d["runs"])
    assert cycle(one_by_one, NOW, "s4", defence=False) == {"decisions": [], "stopped": "queue empty"}
    assert together == alone
    assert statuses(synth) == statuses(one_by_one)
    assert synth.load(SWEEP).running == {}
    # an explicit --hypothesis sweeps just that one
    with synth.edit(QUEUE) as doc:
        doc["hypotheses"][3]["status"] = "queued"
    proc = run_cli("sweep", "--json", "--no-defence", "--hypothesis", "H-004", "--now", "2026-01-05T09:00:00Z",
                   home=synth.home, check=True, timeout=300)
    out = json.loads(proc.stdout)
    assert [d["hypothesis"] for d in out["decisions"]] == ["H-004"] and out["stopped"] == "limit reached"


def test_a_long_run_keeps_its_sweeps_lease_alive(synth, monkeypatch):
    """The heartbeat a run holds (cycle's runs, the DAG's sweep_run) renews the lease meanwhile."""
    import time

    clock = [dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)]
    monkeypatch.setattr(pick_module, "wall_clock", lambda: clock[0])
    prepare(synth, NOW, "long")
    clock[0] += dt.timedelta(hours=5)
    with pick_module.heartbeat(StateStore(synth.home), "long", every_s=0.05):
        time.sleep(0.5)
    assert synth.load(SWEEP).running["H-001"].lease == clock[0]
    assert prepare(synth, NOW, "other").hypothesis == "H-002"  # H-001's sweep is alive


def _start_at_once(cmds: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for cmd in cmds]
    out = []
    for cmd, p in zip(cmds, procs, strict=True):
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, f"{cmd}: {stderr}"
        out.append(subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr))
    return out


def test_two_processes_running_one_seed_at_once_train_it_once(synth, tmp_path):
    """`autobench run production --seed 7` twice at the same moment (two workers): one trains,
    the other waits and reports the same metrics."""
    log = tmp_path / "runs.log"
    env = {**os.environ, "AUTOBENCH_TEST_RUN_LOG": str(log), "AUTOBENCH_TEST_RUN_SLEEP": "2"}
    cmd = autobench_cmd() + ["run", "production", "--seed", "7", "--json", "--home", str(synth.home)]
    first, second = _start_at_once([cmd, cmd], env)
    assert len(log.read_text().splitlines()) == 1
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_two_processes_picking_at_once_never_pick_the_same_hypothesis(synth):
    code = ("import sys; from autobench.clock import parse_now; from autobench.store import StateStore; "
            "from autobench.experiments.pick import pick_many; "
            "picks, _ = pick_many(StateStore(sys.argv[1]), parse_now('2026-01-05T08:00:00Z'), sys.argv[2], 2); "
            "print(','.join(p.hypothesis for p in picks))")
    runs = _start_at_once([[sys.executable, "-c", code, str(synth.home), run_id] for run_id in ("p1", "p2")],
                          dict(os.environ))
    a, b = (set(r.stdout.strip().split(",")) for r in runs)
    assert len(a) == len(b) == 2 and not a & b
    assert {hid: e.run_id for hid, e in synth.load(SWEEP).running.items()} == {
        **dict.fromkeys(a, "p1"), **dict.fromkeys(b, "p2")}


def _dag_sweep(store, dag_run_id: str, turns: int) -> tuple[dict, list[dict]]:
    """The experiment_sweep DAG's task bodies in its order, without Airflow: turn_0, then for each
    turn its runs (run_k: each payload through sweep_run), turn_k+1 …, finalize. A turn that
    returns ``skip`` is skipped, and so are its runs."""
    from autobench.experiments.tasks import sweep_finish, sweep_run, sweep_turn

    home = str(store.home)
    outs = [sweep_turn(0, NOW, dag_run_id, {}, home=home)]
    for k in range(turns):
        out = outs[-1]
        outputs = [] if "skip" in out else [sweep_run(i["pick"], i["payload"], home=home) for i in out["task"]]
        assert "skip" in out or out["pod"] == []  # the local backend: every run is a task
        if k + 1 == turns:
            return sweep_finish(turns, NOW, dag_run_id, outputs, [], home=home), outs
        outs.append(sweep_turn(k + 1, NOW, dag_run_id, {}, outputs, [], home=home))
    raise AssertionError("no turns")


def test_the_dags_turns_decide_the_queue_two_at_a_time_as_the_command_line_does(synth, tmp_path):
    """max_parallel_hypotheses 2, max_hypotheses_per_sweep 10: the DAG's turns (as many as
    dag_turns gives) decide every hypothesis, each as a one-decision sweep decides it; the turns
    after the queue emptied are skipped; a promotion's test-split evaluation waits for finalize."""
    from autobench.experiments.sweep import ROUNDS, dag_turns, load_progress

    one_by_one = StateStore(shutil.copytree(synth.home, tmp_path / "one_by_one"))
    with synth.edit(REGISTRY) as doc:
        doc["experiments"]["max_parallel_hypotheses"] = 2
        doc["experiments"]["max_hypotheses_per_sweep"] = 10
    turns = dag_turns(synth.load(REGISTRY).experiments)
    assert turns == min(24, ROUNDS * 5)
    result, outs = _dag_sweep(synth, "dag", turns)
    assert result["stopped"] == "queue empty"
    together = {d["hypothesis"]: (d["decision"], d["status"], d["runs"]) for d in result["decisions"]}
    assert sorted(together) == ["H-001", "H-002", "H-003", "H-004"]
    for out in outs:  # a run two hypotheses need in one round (a production seed) is handed out once
        payloads = [json.dumps(i["payload"], sort_keys=True) for i in out.get("task", [])]
        assert len(payloads) == len(set(payloads))
    pairs = [{i["pick"]["hypothesis"] for i in out["task"]} for out in outs if "skip" not in out]
    assert max(len(p) for p in pairs) == 2  # two hypotheses' runs mapped together in one turn
    skipped = [k for k, out in enumerate(outs) if "skip" in out]
    assert skipped and skipped == list(range(skipped[0], turns)) and "the sweep is over" in outs[-1]["skip"]
    alone = {}
    for i in range(4):
        (d,) = cycle(one_by_one, NOW, f"s{i}", defence=False)["decisions"]
        alone[d["hypothesis"]] = (d["decision"], d["status"], d["runs"])
    assert together == alone
    assert statuses(synth) == statuses(one_by_one)
    assert synth.load(SWEEP).running == {}
    for d in result["decisions"]:
        assert "deferred" not in d
        assert ("eval_on_leaderboard" in d) == (d["decision"] == "promote")
    progress = load_progress(synth, "dag")
    assert progress.over and progress.turn == turns and progress.picks == []


def test_a_failed_turn_skips_the_rest_and_finalize_refuses(synth):
    """turn_1 fails (it never records itself): turn_2 … are skipped, finalize fails with the reason."""
    from autobench.errors import AutobenchError
    from autobench.experiments.tasks import sweep_finish, sweep_turn

    home = str(synth.home)
    first = sweep_turn(0, NOW, "broken", {}, home=home)
    assert first["task"]
    # turn_1 crashed before recording anything: turn_2 finds turn_0 the last on record
    later = sweep_turn(2, NOW, "broken", {}, [], [], home=home)
    assert later == {"skip": "turn_1 did not finish (turn_0 is the last on record in state/sweep.json)"}
    with pytest.raises(AutobenchError, match="did not all finish"):
        sweep_finish(4, NOW, "broken", home=home)
    with pytest.raises(AutobenchError, match="did not all finish"):
        sweep_finish(4, NOW, "never-started", home=home)


def test_a_retried_turn_hands_out_its_round_again_and_used_up_turns_say_so(synth):
    """A turn that recorded itself and then died is retried: the same round again, nothing
    planned twice. A DAG whose turns run out decides what is in flight and says why it stopped."""
    from autobench.experiments.tasks import sweep_finish, sweep_run, sweep_turn

    home = str(synth.home)
    with synth.edit(REGISTRY) as doc:
        doc["experiments"]["max_parallel_hypotheses"] = 2
        doc["experiments"]["max_hypotheses_per_sweep"] = 10
    first = sweep_turn(0, NOW, "short", {}, home=home)
    outputs = [sweep_run(i["pick"], i["payload"], home=home) for i in first["task"]]
    second = sweep_turn(1, NOW, "short", {}, outputs, [], home=home)
    assert sweep_turn(1, NOW, "short", {}, outputs, [], home=home) == second  # the retry
    outputs = [sweep_run(i["pick"], i["payload"], home=home) for i in second["task"]]
    result = sweep_finish(2, NOW, "short", outputs, [], home=home)  # a DAG of two turns
    assert result["stopped"] == "the DAG's turns are used up", result
    assert len(result["decisions"]) >= 2 and synth.load(SWEEP).running == {}


def test_a_round_of_pods_the_dag_cannot_start_is_refused(synth):
    from autobench.errors import AutobenchError
    from autobench.experiments.tasks import sweep_turn

    with pytest.raises(AutobenchError, match="parsed without pod operators"):
        sweep_turn(0, NOW, "pods", {"backend": "kubernetes"}, home=str(synth.home), pods=False)


def test_the_default_dag_has_the_rounds_of_one_hypothesis():
    from autobench.experiments.sweep import ROUNDS, dag_turns
    from autobench.schemas import ExperimentsSettings

    assert dag_turns(ExperimentsSettings()) == ROUNDS
    assert dag_turns(ExperimentsSettings(max_parallel_hypotheses=3, max_hypotheses_per_sweep=6)) == 2 * ROUNDS
    assert dag_turns(ExperimentsSettings(max_hypotheses_per_sweep=100)) == 24
