"""The digest's charts: the data they draw, what the figure holds, and the PNG files."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from autobench.clock import iso, parse_now
from autobench.errors import AutobenchError
from autobench.monitor.snapshots import slug
from autobench.reporting import plots
from autobench.schemas import REGISTRY, Decision, Snapshot
from autobench.store import StateStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def write_snapshot(home: Path, board: str, at: str, rows: list[tuple[str, float]], scale: str = "fraction") -> Path:
    factor = 0.01 if scale == "percent" else 1.0
    snap = Snapshot(leaderboard=board, url="pages/x", method="manual", run_id=f"run-{at}", taken_at=parse_now(at),
                    scale=scale, rows=[{"rank": i, "system": s, "score": v, "value": round(v * factor, 10)}
                                       for i, (s, v) in enumerate(rows, 1)])
    path = home / "snapshots" / slug(board) / f"{at.replace(':', '').replace('-', '')}-0000abcd.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snap.model_dump(mode="json")))
    return path


@pytest.fixture
def registry(store):
    reg = store.load(REGISTRY)
    reg.our_solution.aliases = ["Our System (v3)"]
    return reg


@pytest.fixture
def history(home):
    """Three MemoryBench snapshots (behind, closer under an alias, ahead) and two LongContextEval ones."""
    write_snapshot(home, "MemoryBench", "2026-01-05T06:00:00Z",
                   [("CompetitorA", 0.847), ("CompetitorB", 0.831), ("OurSystem", 0.823)])
    write_snapshot(home, "MemoryBench", "2026-01-06T06:00:00Z",
                   [("CompetitorA", 0.850), ("Our System (v3)", 0.835), ("CompetitorB", 0.831)])
    write_snapshot(home, "MemoryBench", "2026-01-07T06:00:00Z",
                   [("OurSystem", 0.860), ("CompetitorA", 0.852)])
    write_snapshot(home, "LongContextEval", "2026-01-05T06:00:00Z",
                   [("CompetitorC", 81.8), ("OurSystem", 81.2)], scale="percent")
    write_snapshot(home, "LongContextEval", "2026-01-06T06:00:00Z", [("CompetitorC", 82.0)], scale="percent")
    return home


# ----------------------------------------------------------------------------- gap to #1 over time


def test_gap_series_is_oriented_and_matches_aliases(history, registry):
    series = plots.gap_series(history, registry)
    assert list(series) == ["MemoryBench", "LongContextEval"]
    mb = series["MemoryBench"]
    assert [iso(t) for t, _ in mb] == ["2026-01-05T06:00:00Z", "2026-01-06T06:00:00Z", "2026-01-07T06:00:00Z"]
    assert [g for _, g in mb] == pytest.approx([-0.024, -0.015, +0.008])  # behind, behind (alias), leading #2
    assert [g for _, g in series["LongContextEval"]] == pytest.approx([-0.006])  # percent scaled; unlisted: no point


def test_gap_figure_draws_one_line_per_leaderboard_and_a_zero_line(history, registry):
    series = plots.gap_series(history, registry)
    fig = plots.gap_figure(series)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["#1 (zero gap)"].get_ydata()) == [0.0, 0.0]
    mb = next(line for label, line in lines.items() if label.startswith("MemoryBench"))
    assert "now +0.008" in mb.get_label()
    assert list(mb.get_ydata()) == pytest.approx([-0.024, -0.015, 0.008])
    assert any(label.startswith("LongContextEval") for label in lines)
    assert ax.get_xlabel() and "gap to #1" in ax.get_ylabel() and ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 3 and any("MemoryBench" in t for t in legend)


def test_gap_over_time_writes_a_png(history, registry, tmp_path):
    out = plots.gap_over_time(history, registry, tmp_path / "digest" / "gap.png")
    assert out == tmp_path / "digest" / "gap.png"
    assert png_size(out) == (840, 480) and out.stat().st_size > 10_000
    # the registry defaults to the home's own
    assert plots.gap_over_time(history, None, tmp_path / "gap2.png").read_bytes()[:8] == PNG_MAGIC


def test_gap_over_time_without_snapshots_is_none(home, registry, tmp_path):
    assert plots.gap_over_time(home, registry, tmp_path / "gap.png") is None
    assert not (tmp_path / "gap.png").exists()


def test_a_leaderboard_where_we_are_never_listed_still_plots(home, registry, tmp_path):
    write_snapshot(home, "MemoryBench", "2026-01-05T06:00:00Z", [("CompetitorA", 0.847)])
    series = plots.gap_series(home, registry)
    assert series == {"MemoryBench": []}
    fig = plots.gap_figure(series)
    assert any("not listed" in t.get_text() for t in fig.axes[0].texts)
    assert png_size(plots.gap_over_time(home, registry, tmp_path / "gap.png")) == (840, 480)


def test_a_broken_snapshot_is_an_autobench_error(home, registry, tmp_path):
    bad = home / "snapshots" / "MemoryBench" / "20260105T060000Z-0000abcd.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(AutobenchError, match="not a valid snapshot"):
        plots.gap_over_time(home, registry, tmp_path / "gap.png")


# ----------------------------------------------------------------------------- the latest experiment


def decision(hid: str, at: str, control: dict[int, float], candidate: dict[int, float], verdict: str = "promote",
             threshold: float = 0.005) -> dict:
    seeds = sorted(control)
    record = {
        "hypothesis": hid, "decision": verdict,
        "status": {"promote": "promoted", "reject": "rejected"}.get(verdict, "extended"),
        "criteria": [{"name": "improvement", "passed": verdict == "promote", "value": 0.0,
                      "requirement": f"mean paired gain ≥ {threshold:g} (promotion_threshold)"}],
        "projection": {}, "reason": f"{hid} test decision", "policy": {"name": "fixed"},
        "evidence": {"metric": "accuracy", "higher_is_better": True, "seeds": seeds,
                     "control": {str(s): control[s] for s in seeds},
                     "candidate": {str(s): candidate[s] for s in seeds},
                     "diffs": [candidate[s] - control[s] for s in seeds]},
        "config_hash": "c0ffee", "production_hash": "decaf0", "decided_at": at,
    }
    Decision.model_validate(record)
    return record


def write_decision(home: Path, record: dict) -> Path:
    path = home / "experiments" / "results" / record["hypothesis"] / record["config_hash"] / "decision.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


CONTROL = {1: 0.9905, 2: 0.9891, 3: 0.9921}
CANDIDATE = {1: 0.9996, 2: 0.9979, 3: 1.0016}


def test_latest_decision_is_chosen_by_decided_at(home):
    assert plots.latest_decision(home) is None
    write_decision(home, decision("H-009", "2026-01-08T08:00:00Z", CONTROL, CANDIDATE))
    write_decision(home, decision("H-010", "2026-01-07T08:00:00Z", CONTROL, CANDIDATE, "reject"))
    (home / "experiments/results/H-011/abc").mkdir(parents=True)
    (home / "experiments/results/H-011/abc/decision.json").write_text("{}")  # invalid: skipped
    assert plots.latest_decision(home).hypothesis == "H-009"


def test_experiment_summary_has_means_intervals_and_the_band():
    s = plots.experiment_summary(decision("H-009", "2026-01-08T08:00:00Z", CONTROL, CANDIDATE))
    assert s["seeds"] == ["1", "2", "3"] and s["control"] == list(CONTROL.values())
    assert s["control_mean"] == pytest.approx(0.990566667) and s["candidate_mean"] == pytest.approx(0.9997)
    # 95% t interval, 2 df: mean ± 4.3027 · sd / √3
    assert s["control_ci95"] == pytest.approx([0.990566667 - 0.0037290, 0.990566667 + 0.0037290], abs=2e-6)
    assert s["threshold"] == 0.005 and s["band"] == pytest.approx([0.990566667, 0.995566667])
    assert s["mean_diff"] == pytest.approx(0.0091333, abs=1e-6)


def test_experiment_figure_draws_pairs_points_error_bars_and_the_band():
    s = plots.experiment_summary(decision("H-009", "2026-01-08T08:00:00Z", CONTROL, CANDIDATE))
    fig = plots.experiment_figure(s)
    ax = fig.axes[0]
    pairs = [line for line in ax.get_lines() if list(line.get_xdata()) == [0, 1]]
    assert len(pairs) == 3
    assert (sorted(tuple(line.get_ydata()) for line in pairs)
            == sorted(zip(CONTROL.values(), CANDIDATE.values(), strict=True)))
    offsets = [c.get_offsets() for c in ax.collections if c.get_label().endswith("per seed")]
    assert [list(o[:, 1]) for o in offsets] == [list(CONTROL.values()), list(CANDIDATE.values())]
    assert len(ax.containers) == 2  # two error bars: production's and the candidate's means
    band = next(p for p in ax.patches if "threshold" in p.get_label())
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx(tuple(s["band"]))
    assert "H-009" in ax.get_title() and "promote" in ax.get_title()
    assert ax.get_ylabel() == "accuracy"


def test_latest_experiment_writes_a_png_for_the_latest_or_the_given_decision(home, tmp_path):
    assert plots.latest_experiment(home, tmp_path / "exp.png") is None and not (tmp_path / "exp.png").exists()
    write_decision(home, decision("H-009", "2026-01-08T08:00:00Z", CONTROL, CANDIDATE))
    out = plots.latest_experiment(home, tmp_path / "exp.png")
    assert png_size(out) == (768, 528) and out.stat().st_size > 10_000
    given = decision("H-012", "2026-01-01T08:00:00Z", {1: 0.5}, {1: 0.49}, "reject")
    out2 = plots.latest_experiment(home, tmp_path / "given.png", given)
    assert png_size(out2) == (768, 528) and out2.read_bytes() != out.read_bytes()
    with pytest.raises(AutobenchError, match="not a valid decision"):
        plots.latest_experiment(home, tmp_path / "bad.png", {"hypothesis": "H-1"})


def test_a_decision_written_by_decide_plots(store, tmp_path):
    from test_decide import NOW, candidate_runs, production_runs

    from autobench.experiments.decide import decide

    production_runs(store)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    decide(store, "H-002", NOW)
    record = plots.latest_decision(store.home)
    assert record.hypothesis == "H-002"
    s = plots.experiment_summary(record, store.home)
    assert s["threshold"] == StateStore(store.home).load(REGISTRY).promotion_threshold
    assert s["p_value"] is not None and len(s["seeds"]) == 3
    assert png_size(plots.latest_experiment(store.home, tmp_path / "exp.png")) == (768, 528)
