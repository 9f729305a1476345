"""The digest's charts, as PNG files (matplotlib's Agg canvas, no display, no pyplot state).

- :func:`gap_over_time`: our gap to #1 on each leaderboard against snapshot time, one line per
  leaderboard, with a zero line. The gap is :func:`~autobench.monitor.standings.gap_to_first` on each
  snapshot's ranking (names matched through the registry's aliases): negative = behind #1,
  positive = our lead over #2.
- :func:`latest_experiment`: the latest decision (by ``decided_at``, from the results store,
  or a given one): production's and the candidate's full runs per seed, paired
  seeds joined by thin lines, each side's mean with its 95% t interval, and the promotion
  threshold as a band from production's mean.

Each chart has a data function (:func:`gap_series`, :func:`experiment_summary`) and a figure
function (:func:`gap_figure`, :func:`experiment_figure`), so what is drawn can be checked without
reading pixels. matplotlib and scipy are imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobench import fsio
from autobench.errors import AutobenchError
from autobench.schemas import REGISTRY, Decision, Registry

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Series = dict[str, list[tuple[dt.datetime, float]]]
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _registry(home: Path, registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from autobench.store import StateStore

    return StateStore(home).load(REGISTRY)


def _new_figure(width: float = 7.0, height: float = 4.0) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG, atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    fsio.atomic_write(target, buf.getvalue())
    return target


# ----------------------------------------------------------------------------- gap to #1 over time


def gap_series(home: Path, registry: Registry | None = None) -> Series:
    """Per leaderboard with snapshots: ``[(taken_at, gap to #1), ...]`` in time order.

    Snapshots where we are not listed give no point (the leaderboard stays, possibly empty).
    """
    from autobench.monitor.snapshots import board, load_snapshot, names_of, snapshots
    from autobench.monitor.standings import gap_to_first

    registry = _registry(home, registry)
    names = names_of(registry)
    out: Series = {}
    for lb in registry.target_leaderboards:
        paths = snapshots(home, lb.name)
        if not paths:
            continue
        points = []
        for p in paths:
            snap = load_snapshot(p)
            gap = gap_to_first(board(registry, lb, snap, names))
            if gap is not None:
                points.append((snap.taken_at, gap))
        out[lb.name] = sorted(points)
    return out


def gap_figure(series: Series, title: str = "Gap to #1 by leaderboard") -> Figure:
    """One line per leaderboard (gap against time) and a zero line."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    fig = _new_figure()
    ax = fig.add_subplot()
    ax.axhline(0.0, color="0.3", linewidth=1.0, linestyle="--", label="#1 (zero gap)")
    plotted = 0
    for name, points in series.items():
        if not points:
            ax.plot([], [], label=f"{name} (not listed)")
            continue
        xs = [t for t, _ in points]
        ys = [g for _, g in points]
        ax.plot(xs, ys, marker="o", markersize=3.5, linewidth=1.6, label=f"{name} (now {ys[-1]:+.3f})")
        plotted += 1
    times = [t for points in series.values() for t, _ in points]
    if times and min(times) == max(times):  # one snapshot: a day either side, not matplotlib's years
        import datetime as _dt

        ax.set_xlim(min(times) - _dt.timedelta(days=1), max(times) + _dt.timedelta(days=1))
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("snapshot time (UTC)")
    ax.set_ylabel("our gap to #1 (negative = behind)")
    ax.set_title(title)
    if not plotted:
        ax.text(0.5, 0.5, "we are not listed on any leaderboard yet", transform=ax.transAxes, ha="center")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def gap_over_time(home: Path, registry: Registry | None, path: str | Path) -> Path | None:
    """PNG of our gap to #1 per leaderboard over time; ``None`` (nothing written) without snapshots."""
    series = gap_series(Path(home), registry)
    if not series:
        return None
    return save_png(gap_figure(series), path)


# ----------------------------------------------------------------------------- the latest experiment


def latest_decision(home: Path) -> Decision | None:
    """The decision with the latest ``decided_at`` (records that do not parse are skipped)."""
    from autobench.experiments import results

    newest = results.decisions(home).newest_first()
    return newest[0][1] if newest else None


def _threshold(decision: Decision, home: Path | None) -> float | None:
    """The threshold the decision was judged by (its improvement criterion), else the registry's."""
    for c in decision.criteria:
        if c.name == "improvement":
            m = _NUMBER.search(c.requirement.split("≥", 1)[-1]) if "≥" in c.requirement else None
            if m:
                return abs(float(m.group()))
    if home is not None:
        try:
            return _registry(home, None).promotion_threshold
        except AutobenchError:
            return None
    return None


def _summary_of(values: list[float]) -> dict[str, Any]:
    from autobench.experiments.statistics import summarize

    if not values:
        return {"n": 0, "mean": None, "ci95": [None, None]}
    s = summarize(values)
    return {"n": s["n"], "mean": s["mean"], "ci95": s["ci95"]}


def experiment_summary(decision: Mapping[str, Any] | Decision, home: Path | None = None,
                       threshold: float | None = None) -> dict[str, Any]:
    """What :func:`experiment_figure` draws: per-seed scores, means, 95% t intervals, threshold band."""
    try:
        d = decision if isinstance(decision, Decision) else Decision.model_validate(dict(decision))
    except Exception as exc:  # pydantic's ValidationError, or not a mapping
        raise AutobenchError(f"not a valid decision: {str(exc).splitlines()[0]}") from None
    ev = d.evidence
    seeds = sorted(set(ev.control) & set(ev.candidate), key=lambda s: (len(s), s))
    control = [ev.control[s] for s in seeds]
    candidate = [ev.candidate[s] for s in seeds]
    prod, cand = _summary_of(control), _summary_of(candidate)
    if threshold is None:
        threshold = _threshold(d, home)
    band = None
    if threshold is not None and prod["mean"] is not None:
        m = prod["mean"]
        band = [m, m + threshold] if ev.higher_is_better else [m - threshold, m]
    p_value = (d.comparison or {}).get("p_ttest")
    return {
        "hypothesis": d.hypothesis, "decision": d.decision, "metric": ev.metric,
        "higher_is_better": ev.higher_is_better, "seeds": seeds, "control": control, "candidate": candidate,
        "control_mean": prod["mean"], "control_ci95": prod["ci95"],
        "candidate_mean": cand["mean"], "candidate_ci95": cand["ci95"],
        "mean_diff": (cand["mean"] - prod["mean"]) if control else None,
        "threshold": threshold, "band": band, "p_value": p_value,
        "decided_at": d.decided_at.isoformat().replace("+00:00", "Z"),
    }


def experiment_figure(summary: Mapping[str, Any]) -> Figure:
    """Per-seed points (pairs joined), means with 95% t error bars, the threshold band."""
    fig = _new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    hid, seeds = summary["hypothesis"], summary["seeds"]
    control, candidate = summary["control"], summary["candidate"]
    if summary["band"] is not None:
        lo, hi = summary["band"]
        sign = "+" if summary["higher_is_better"] else "−"
        ax.axhspan(lo, hi, color="tab:green", alpha=0.15, linewidth=0,
                   label=f"threshold: production mean {sign}{summary['threshold']:g}")
    for c, k in zip(control, candidate, strict=True):
        ax.plot([0, 1], [c, k], color="0.55", linewidth=0.7, zorder=1)
    if seeds:
        ax.scatter([0] * len(control), control, color="tab:blue", s=22, zorder=3, label="production, per seed")
        ax.scatter([1] * len(candidate), candidate, color="tab:orange", s=22, zorder=3, label=f"{hid}, per seed")
        label = "mean ± 95% t interval"
        for x, mean, ci, color in ((-0.18, summary["control_mean"], summary["control_ci95"], "tab:blue"),
                                   (1.18, summary["candidate_mean"], summary["candidate_ci95"], "tab:orange")):
            if ci[0] is not None:
                yerr = [[mean - ci[0]], [ci[1] - mean]]
                ax.errorbar([x], [mean], yerr=yerr, fmt="D", color=color, capsize=5, markersize=6, zorder=4,
                            label=label)
            else:
                ax.plot([x], [mean], marker="D", color=color, markersize=6, zorder=4,
                        label=label and "mean (one seed)")
            label = None
    else:
        ax.text(0.5, 0.5, "no paired full runs", transform=ax.transAxes, ha="center")
    ax.set_xticks([0, 1], ["production", hid])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel(summary["metric"] + ("" if summary["higher_is_better"] else " (lower is better)"))
    ax.set_xlabel(f"{len(seeds)} paired seed(s)")
    detail = []
    if summary["mean_diff"] is not None:
        detail.append(f"gain {summary['mean_diff'] if summary['higher_is_better'] else -summary['mean_diff']:+.4f}")
    if summary["p_value"] is not None and not (isinstance(summary["p_value"], float)
                                               and math.isnan(summary["p_value"])):
        detail.append(f"p = {summary['p_value']:.3g}")
    ax.set_title(f"{hid}: {summary['decision']}" + (f" ({', '.join(detail)})" if detail else ""))
    ax.grid(axis="y", alpha=0.3)
    if seeds:  # nothing to label without paired runs
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def latest_experiment(home: Path, path: str | Path,
                      decision: Mapping[str, Any] | Decision | None = None) -> Path | None:
    """PNG of the latest decision's (or ``decision``'s) paired runs; ``None`` when there is none."""
    home = Path(home)
    if decision is None:
        decision = latest_decision(home)
        if decision is None:
            return None
    return save_png(experiment_figure(experiment_summary(decision, home)), path)
