"""The autonomous week: `make demo`'s replay of Monday 2026-01-05 to Monday 2026-01-12, with real
training on the CPU, asserted day by day: Monday's status, ingest and first sweep (a broken
hypothesis fails fast validation, a useless one is rejected), Wednesday's overtake and the urgent
sweep that promotes the helpful one, the rest of the week's decisions, and Monday 12th's digest
in Slack, every run succeeding and the state valid after every day.

The replay runs once for the module (``python -m demo.week``: `airflow dags test`
per run, the Asset-triggered runs started from the metadata DB's events). Every failure names
the day and the expectation, and shows what the DAG runs of that day printed.

To check a finished `make demo` folder without replaying (while changing these tests):
``AUTOBENCH_WEEK_WORKDIR=demo_week pytest tests/demo/test_demo_week.py`` (it reads ``output.txt`` there,
which the demo writes: everything it printed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO

# the replay (about 9 minutes idle) runs in the first test's setup: room for a loaded CI machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

MON5, TUE6, WED7, MON12 = "2026-01-05", "2026-01-06", "2026-01-07", "2026-01-12"
WEEK_DAYS = [f"2026-01-{d:02d}" for d in range(5, 13)]
IMMUTABLE = ("snapshots/", "experiments/archived/", "experiments/promoted/", "digests/")


@dataclass
class Week:
    workdir: Path
    home: Path
    output: str
    returncode: int
    report: dict[str, Any]

    def day(self, date: str) -> dict[str, Any]:
        found = [d for d in self.report["days"] if d["date"] == date]
        assert found, f"{date}: the replay never reached this day\n{self.output[-4000:]}"
        return found[0]

    def runs(self, date: str, dag_id: str | None = None, triggered: bool | None = None) -> list[dict[str, Any]]:
        runs = [self.report["runs"][i] for i in self.day(date)["runs"]]
        if dag_id:
            runs = [r for r in runs if r["dag_id"] == dag_id]
        if triggered is not None:
            runs = [r for r in runs if bool(r["trigger"]) == triggered]
        return runs

    def said(self, date: str, dag_id: str | None = None, triggered: bool | None = None) -> str:
        return "\n".join(line for r in self.runs(date, dag_id, triggered) for line in r["lines"])

    def expect(self, date: str, what: str, ok: bool, dag_id: str | None = None) -> None:
        """A labelled assertion: the day, the expectation, and what that day's runs printed."""
        if not ok:
            runs = self.runs(date, dag_id) if any(d["date"] == date for d in self.report["days"]) else []
            shown = "\n".join(f"--- {r['at']} {r['dag_id']} ({r['state']}, log {self.workdir / r['log']})\n"
                              + "\n".join(r["lines"]) for r in runs)
            pytest.fail(f"{date}: expected {what}\n{shown[-6000:]}", pytrace=False)


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Week:
    reuse = os.environ.get("AUTOBENCH_WEEK_WORKDIR")  # a finished `make demo` folder: check it, replay nothing
    if reuse:
        workdir = Path(reuse)
        proc = subprocess.CompletedProcess([], 0, (workdir / "output.txt").read_text(), "")
    else:
        workdir = tmp_path_factory.mktemp("week") / "demo"
        proc = subprocess.run([sys.executable, "-m", "demo", "--workdir", str(workdir)], cwd=REPO,
                              capture_output=True, text=True, timeout=1800)
    output = proc.stdout + proc.stderr
    report_path = workdir / "report.json"
    assert report_path.exists(), f"the replay wrote no report (exit {proc.returncode}):\n{output[-6000:]}"
    return Week(workdir, workdir / "home", output, proc.returncode, json.loads(report_path.read_text()))


def decision(home: Path, hid: str) -> dict[str, Any]:
    found = sorted((home / "experiments" / "results" / hid).glob("*/decision.json"))
    assert found, f"no decision.json for {hid}"
    return json.loads(found[-1].read_text())


def test_every_run_succeeds_and_the_state_validates_after_every_day(week):
    assert [d["date"] for d in week.report["days"]] == WEEK_DAYS
    for day in week.report["days"]:
        for run in week.runs(day["date"]):
            week.expect(day["date"], f"{run['dag_id']} at {run['at']} to succeed (it ended {run['state']})",
                        run["state"] == "success", run["dag_id"])
        week.expect(day["date"], f"`autobench validate` to pass after the day:\n{day['validate']['output']}",
                    day["validate"]["ok"])
    scheduled = [(r["at"][11:16], r["dag_id"]) for r in week.report["runs"] if not r["trigger"]]
    assert (scheduled.count(("06:00", "leaderboard_monitor")) == 8
            and scheduled.count(("08:00", "experiment_sweep")) == 8)
    assert scheduled.count(("07:00", "research_ingest")) == 2 and scheduled.count(("09:00", "weekly_digest")) == 2
    assert week.returncode == 0, week.output[-3000:]
    assert "every run and check passed" in week.output


def test_nothing_written_earlier_is_lost(week):
    days = week.report["days"]
    for before, after in zip(days, days[1:], strict=False):
        date = after["date"]
        lost = sorted(set(before["files"]) - set(after["files"]))
        week.expect(date, f"every file of the day before still there; gone: {lost}", not lost)
        changed = sorted(p for p, digest in before["files"].items()
                         if p in after["files"] and after["files"][p] != digest
                         and (p.startswith(IMMUTABLE) or p.endswith(("metrics.json", "decision.json", "config.yaml"))))
        week.expect(date, f"snapshots, runs, decisions, notes and digests never rewritten; rewritten: {changed}",
                    not changed)
        for name, text in before["logs"].items():
            week.expect(date, f"{name} only appended to (the day before's text is its beginning)",
                        after["logs"].get(name, "").startswith(text))
        dropped = sorted(set(before["queue"]) - set(after["queue"]))
        week.expect(date, f"every hypothesis still in the queue; dropped: {dropped}", not dropped)


def test_monday_5th_status_ingest_and_the_first_sweep(week):
    said = week.said(MON5, "leaderboard_monitor")
    week.expect(MON5, "the [STATUS] line: #2 on MemoryBench",
                "[STATUS] Our rank: #2 | Gap to #1: -0.004 on MemoryBench" in said, "leaderboard_monitor")
    gap = week.day(MON5)["gap_matrix"]
    rows = {r["system"]: r for r in gap["rows"]}
    week.expect(MON5, "the gap matrix to put us #2 on MemoryBench, 0.004 behind CompetitorA",
                gap["leaderboards"][0] == "MemoryBench" and rows["OurSystem"]["rank"] == 2 and rows["OurSystem"]["ours"]
                and rows["CompetitorA"]["rank"] == 1
                and round(rows["OurSystem"]["scores"]["MemoryBench"]
                          - rows["CompetitorA"]["scores"]["MemoryBench"], 3) == -0.004,
                "leaderboard_monitor")
    snapshot = sorted((week.home / "snapshots" / "MemoryBench").glob("20260105T*.json"))
    week.expect(MON5, "a MemoryBench snapshot with us second", len(snapshot) == 1 and
                [r["system"] for r in json.loads(snapshot[0].read_text())["rows"]][:2] == ["CompetitorA", "OurSystem"])

    ingest = week.said(MON5, "research_ingest")
    log = week.day(MON5)["logs"].get("research_log.md", "")
    for title in ("Bigger Steps for Recall", "Positions Are Optional"):
        week.expect(MON5, f"research_log.md to log the relevant paper {title!r}", title in log, "research_ingest")
    week.expect(MON5, "the irrelevant paper skipped (said, and not logged)",
                "skipped, not relevant: 2512.31876" in ingest and "2512.31876" not in log, "research_ingest")
    queue = yaml.safe_load((week.home / "experiment_queue.yaml").read_text())["hypotheses"]
    from_papers = {h["id"]: h for h in queue if h["id"] in ("H-004", "H-005", "H-006")}
    week.expect(MON5, "three hypotheses queued by the ingest (H-004..H-006)",
                "hypotheses added: ['H-004', 'H-005', 'H-006']" in ingest and len(from_papers) == 3, "research_ingest")
    assert from_papers["H-004"]["implementation"]["config_patch"] == {"lr": 0.005}
    assert from_papers["H-005"]["implementation"]["config_patch"] == {"positional_encoding": "none"}

    example = yaml.safe_load((REPO / "include/autobench/examples/week/experiment_queue.yaml").read_text())
    top = max(example["hypotheses"], key=lambda h: h["priority_score"])["id"]
    sweep = week.said(MON5, "experiment_sweep")
    week.expect(MON5, f"the sweep to run the top hypothesis {top}", f"picked {top} " in sweep, "experiment_sweep")


def test_the_broken_hypothesis_fails_fast_validation_and_is_archived(week):
    sweep = week.said(MON5, "experiment_sweep")
    week.expect(MON5, "H-002's fast run to raise (twice: the runner's one retry) and H-002 to be failed",
                "failed 2 times: ValueError" in sweep
                and "H-002 (ALiBi attention biases replace learned positions) failed" in sweep,
                "experiment_sweep")
    assert week.day(MON5)["queue"]["H-002"] == "failed"
    notes = list((week.home / "experiments" / "archived").glob("H-002-*.md"))
    assert len(notes) == 1 and "failed" in notes[0].read_text()
    runs = week.home / "experiments" / "results" / "H-002"
    assert not list(runs.glob("*/full/seed_*")), "a broken config got full runs"
    assert list(runs.glob("*/fast/seed_1/failure.json"))


def test_the_useless_hypothesis_is_rejected_with_the_criteria_it_failed(week):
    sweep = week.said(TUE6, "experiment_sweep")
    week.expect(TUE6, "H-003 rejected on improvement", "picked H-003 " in sweep and "H-003: reject" in sweep
                and "FAIL improvement" in sweep, "experiment_sweep")
    record = decision(week.home, "H-003")
    failed = [c["name"] for c in record["criteria"] if not c["passed"]]
    assert record["decision"] == "reject" and record["status"] == "rejected" and "improvement" in failed
    assert record["evidence"]["seeds"] == [1, 2, 3] and record["comparison"]["paired"]
    note = next((week.home / "experiments" / "archived").glob("H-003-*.md")).read_text()
    assert "| improvement | **no** |" in note and "Failed criteria: " + ", ".join(failed) in note


def test_wednesday_7th_overtaken_urgent_sweep_promotes(week):
    said = week.said(WED7, "leaderboard_monitor")
    for line in ("[ALERT] CompetitorB overtook us on MemoryBench", "[ALERT] Our rank dropped on MemoryBench: #2 → #3",
                 "[STATUS] Our rank: #3 | Gap to #1: -0.004 on MemoryBench"):
        week.expect(WED7, f"the monitor to say {line!r}", line in said, "leaderboard_monitor")
    monitor = week.runs(WED7, "leaderboard_monitor")[0]
    urgent = [e for e in monitor["events"] if e["asset"] == "autobench://urgent"]
    week.expect(WED7, "an autobench://urgent event for MemoryBench (rank_dropped)",
                len(urgent) == 1 and urgent[0]["extra"]["leaderboard"] == "MemoryBench"
                and urgent[0]["extra"]["reason"] == "rank_dropped", "leaderboard_monitor")
    alerts = [week.report["slack"][i]["text"] for i in monitor["slack"]]
    week.expect(WED7, "the [ALERT] lines in Slack", any("overtook us on MemoryBench" in t for t in alerts),
                "leaderboard_monitor")

    triggered = week.runs(WED7, "experiment_sweep", triggered=True)
    week.expect(WED7, "one experiment_sweep started by autobench://urgent, before the 08:00 one",
                len(triggered) == 1 and triggered[0]["trigger"][0]["asset"] == "autobench://urgent"
                and triggered[0]["at"] < f"{WED7}T08:00", "experiment_sweep")
    said = "\n".join(triggered[0]["lines"])
    assert "triggered by autobench://urgent (MemoryBench, rank_dropped)" in said
    # the top queued hypothesis then: H-001 (H-002 failed on Monday, H-003 rejected on Tuesday)
    week.expect(WED7, "the urgent sweep to run H-001 and promote it",
                "picked H-001 " in said and "H-001: promote" in said, "experiment_sweep")


def test_the_helpful_hypothesis_is_fast_validated_run_on_paired_seeds_and_promoted(week):
    record = decision(week.home, "H-001")
    assert record["decision"] == "promote" and record["status"] == "promoted"
    assert sorted(c["name"] for c in record["criteria"]) == ["improvement", "projection", "regression",
                                                             "reproducibility", "significance"]
    assert all(c["passed"] for c in record["criteria"]), record["criteria"]
    assert record["evidence"]["seeds"] == [1, 2, 3] and record["evidence"]["fast"] is not None
    runs = sorted(p.relative_to(week.home / "experiments/results/H-001").as_posix()
                  for p in (week.home / "experiments/results/H-001").glob("*/*/seed_*/metrics.json"))
    assert [r.split("/", 1)[1] for r in runs] == ["fast/seed_1/metrics.json", "full/seed_1/metrics.json",
                                                  "full/seed_2/metrics.json", "full/seed_3/metrics.json"]
    production = {p.parent.name
                  for p in (week.home / "experiments/results/production").glob("*/full/seed_*/metrics.json")}
    assert {"seed_1", "seed_2", "seed_3"} <= production  # the pairs
    assert week.day(WED7)["queue"]["H-001"] == "promoted"

    registry = yaml.safe_load((week.home / "competitive_registry.yaml").read_text())
    config = registry["our_solution"]["config"]
    assert config["depth"] == 1 and config["steps"] == 600
    assert registry["our_solution"]["current_scores"]["MemoryBench"] > 0.99
    changelog = (week.home / "CHANGELOG.md").read_text()
    assert "promoted H-001" in changelog and "depth: 1, steps: 600" in changelog
    evaluation = list((week.home / "experiments/results/H-001").glob("*/eval_on_leaderboard.json"))
    assert len(evaluation) == 1
    assert json.loads(evaluation[0].read_text())["metrics"]["accuracy"] > 0.99
    report = list((week.home / "experiments/results/H-001").glob("*/BENCHMARK_REPORT.md"))
    assert report and "## Results" in report[0].read_text()


def test_the_rest_of_the_week_decides_the_papers_hypotheses(week):
    statuses = week.report["days"][-1]["queue"]
    assert statuses["H-001"] == "promoted" and statuses["H-002"] == "failed" and statuses["H-003"] == "rejected"
    # what Monday's ingest queued, decided one a day (the example's README has the measured figures)
    for date, hid, outcome in (("2026-01-07", "H-004", "reject → rejected"), ("2026-01-08", "H-006", "reject → failed"),
                               ("2026-01-09", "H-005", "reject → rejected")):
        said = week.said(date, "experiment_sweep", triggered=False)
        week.expect(date, f"the 08:00 sweep to decide {hid}: {outcome}", f"picked {hid} " in said
                    and f"{hid}: {outcome}" in said, "experiment_sweep")
    week.expect("2026-01-08", "H-006's fast run to be screened out as collapsed",
                "collapsed: fast score" in week.said("2026-01-08", "experiment_sweep"), "experiment_sweep")
    for date in ("2026-01-10", "2026-01-11", "2026-01-12"):
        week.expect(date, "an empty queue: nothing to sweep", "nothing to sweep" in week.said(date, "experiment_sweep"),
                    "experiment_sweep")
    assert {statuses[h] for h in ("H-004", "H-005")} == {"rejected"} and statuses["H-006"] == "failed"
    for date in WEEK_DAYS:  # production's defence runs every sweep
        week.expect(date, "the sweep's defence of production",
                    "defence: production seed" in week.said(date, "experiment_sweep"), "experiment_sweep")


def test_monday_12th_the_digest_reaches_slack(week):
    said = week.said(MON12, "leaderboard_monitor")
    week.expect(MON12, "the monitor to see us #1 on MemoryBench",
                "[INFO] Our rank rose on MemoryBench: #3 → #1" in said
                and "[STATUS] Our rank: #1 | Lead over #2: +0.006 on MemoryBench" in said, "leaderboard_monitor")
    ours = next(r for r in week.day(MON12)["gap_matrix"]["rows"] if r["ours"])
    week.expect(MON12, "the gap matrix to put us #1 with the promoted config's score", ours["rank"] == 1
                and ours["scores"]["MemoryBench"] == 0.997, "leaderboard_monitor")
    digests = [week.report["slack"][i] for r in week.runs(MON12, "weekly_digest") for i in r["slack"]]
    week.expect(MON12, "the digest posted to Slack", bool(digests), "weekly_digest")
    text = "\n".join(m["text"] for m in digests)
    for what, ok in (
        ("the title for the week of 2026-01-05", "Benchmark Digest — Week of 2026-01-05" in text),
        ("the new position: #1 on MemoryBench", "*MemoryBench*: #1" in text),
        ("the promotion of H-001", "H-001" in text and "promot" in text.lower()),
        ("the competitor's move (CompetitorB)", "CompetitorB" in text),
        ("our rank's week: back to #1 after the fall to #3",
         "MemoryBench: our rank #2 → #1 :arrow_up: (fell to #3 during the week)" in text),
        ("the experiment counts", "1 promoted" in text and "experiments completed" in text),
    ):
        week.expect(MON12, f"the digest in Slack to show {what}", ok, "weekly_digest")
    assert "The digest as Slack received it" in week.output and "Benchmark Digest — Week of 2026-01-05" in week.output

    technical = (week.home / "TECHNICAL_LOG.md").read_text()
    decided = sorted({p.parent.parent.name for p in (week.home / "experiments/results").glob("H-*/*/decision.json")})
    for hid in decided:
        outcome = decision(week.home, hid)["decision"]
        week.expect(MON12, f"TECHNICAL_LOG.md to explain {hid} ({outcome})",
                    f"#### {hid}:" in technical and f"— {outcome}" in technical, "weekly_digest")


def test_the_report_accounts_for_the_time(week):
    split = week.report["time"]
    assert (split["experiment_runs"] >= 20
            and 0 < split["training_seconds"] < split["experiment_seconds"] < split["dag_run_seconds"])
    assert 0 < split["orchestration_share"] < 1
