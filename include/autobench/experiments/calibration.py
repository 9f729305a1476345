"""Calibration: the gains the queue estimated against the gains decisions measured, per source.

A hypothesis carries an ``estimated_gain`` (a paper's reported gain, a gap strategy's guess, a
person's); its decision measures the gain (the mean paired gain over production, the improvement
criterion's value). Over every closed hypothesis (promoted or rejected, with at least one paired
seed), grouped by the kind of source it came from:

- ``paper`` (``arXiv:…``, ``DOI:…``, a URL), ``competitor`` (a competitor's post),
  ``gap strategy`` (the gap-size strategies), ``other`` (written by hand);

and by technique (the hypothesis's title before `` (from "…")``). Per group: ``n``, ``ratio`` =
Σ realised / Σ estimated (the ratio estimator) and its 95% interval, from the ratio's
linearised residuals r_i − ratio·e_i (the delta method) with Student's t on n − 1 degrees of
freedom (none below 2 hypotheses). Two biases to read it with: a hypothesis rejected on its fast
run alone has no measured gain and is left out (those are likely the worst), and the gains of
winners are measured on the seeds they were selected on (selection inflates them).

The queue uses it: a hypothesis's priority (when it is added, and at each re-rank) is computed
from its estimate times its source kind's :func:`factor`, once that kind has
:data:`MIN_FOR_PRIORITY` closed hypotheses: the ratio shrunk toward 1 by :data:`PRIOR_WEIGHT`
pseudo-hypotheses (five closed hypotheses move it half way, fifty almost fully), kept within
[0.1, 2]. Below that the estimate is used as it is (an interval over fewer is too wide to act on).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autobench.hypothesis_queue import SOURCE_KINDS as KINDS
from autobench.hypothesis_queue import source_kind

PRIOR_WEIGHT = 5.0  # pseudo-hypotheses at ratio 1 in factor()
MIN_FOR_PRIORITY = 5  # closed hypotheses of a kind before its ratio moves priorities
FACTOR_BOUNDS = (0.1, 2.0)


def technique(title: str) -> str:
    """The technique a hypothesis applies: its title before `` (from "…")``."""
    return title.split(' (from "', 1)[0].strip()


CALIBRATED = ("promoted", "rejected", "rolled_back")  # closed with a measured gain


@dataclass(frozen=True)
class Outcome:
    hypothesis: str
    kind: str
    technique: str
    estimated: float
    realised: float


def outcomes(home: Path, hypotheses: Iterable[Any]) -> list[Outcome]:
    """Every closed hypothesis's estimated and realised gain (its latest decision's measured gain;
    a promotion's confirmed gain on fresh seeds where it was confirmed)."""
    from autobench.errors import AutobenchError
    from autobench.experiments import results

    out = []
    for h in hypotheses:
        if h.status not in CALIBRATED:
            continue
        try:
            decision = results.latest_decision(home, h.id)
        except AutobenchError:  # an unreadable record: `validate` reports it; calibration skips it
            continue
        crit = decision.criterion("improvement") if decision else None
        if crit is None or not isinstance(crit.value, (int, float)):
            continue
        confirmed = (decision.confirmation or {}).get("gain")  # fresh seeds: the realised gain without selection bias
        realised = confirmed if isinstance(confirmed, (int, float)) else crit.value
        out.append(Outcome(h.id, source_kind(h.source), technique(h.title), float(h.implementation.estimated_gain),
                           float(realised)))
    return out


def ratio(group: list[Outcome]) -> dict[str, Any]:
    """n, Σ realised / Σ estimated, and its 95% interval (delta method, t on n − 1 df)."""
    from autobench.experiments.statistics import t_quantile

    n = len(group)
    est = sum(o.estimated for o in group)
    real = sum(o.realised for o in group)
    if n == 0 or est <= 0:
        return {"n": n, "ratio": None, "interval": None, "estimated": est, "realised": real}
    r = real / est
    interval = None
    if n >= 2:
        mean_e = est / n
        resid = [o.realised - r * o.estimated for o in group]
        se = math.sqrt(sum(x * x for x in resid) / (n * (n - 1))) / mean_e
        half = t_quantile(0.975, n - 1) * se
        interval = [round(r - half, 4), round(r + half, 4)]
    return {"n": n, "ratio": round(r, 4), "interval": interval, "estimated": round(est, 6), "realised": round(real, 6)}


def table(found: list[Outcome]) -> dict[str, list[dict[str, Any]]]:
    """``autobench calibration --json``: ``{"sources": [...], "techniques": [...]}``, largest groups first."""
    def groups(key) -> list[tuple[str, list[Outcome]]]:
        out: dict[str, list[Outcome]] = {}
        for o in found:
            out.setdefault(key(o), []).append(o)
        return sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[0]))

    return {"sources": [{"source": name, **ratio(g)} for name, g in groups(lambda o: o.kind)],
            "techniques": [{"technique": name, **ratio(g)} for name, g in groups(lambda o: o.technique)]}


def calibration(home: Path) -> dict[str, list[dict[str, Any]]]:
    """The table for a state folder (empty lists where nothing has closed)."""
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    return table(outcomes(home, StateStore(home).load(QUEUE).hypotheses))


def factor(rows: list[dict[str, Any]], kind: str) -> float:
    """What a ``kind``'s estimates are multiplied by for priority: its ratio shrunk toward 1 (1
    until the kind has :data:`MIN_FOR_PRIORITY` closed hypotheses)."""
    row = next((r for r in rows if r["source"] == kind), None)
    if row is None or row["ratio"] is None or row["n"] < MIN_FOR_PRIORITY:
        return 1.0
    n = row["n"]
    shrunk = (n * row["ratio"] + PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)
    low, high = FACTOR_BOUNDS
    return min(max(shrunk, low), high)


def factors(home: Path, hypotheses: list[Any]) -> dict[str, float]:
    """Each source kind's priority factor for a queue (empty while no kind has enough closed)."""
    closed = [h for h in hypotheses if h.status in CALIBRATED]
    if not any(sum(1 for h in closed if source_kind(h.source) == k) >= MIN_FOR_PRIORITY for k in KINDS):
        return {}
    rows = table(outcomes(home, closed))["sources"]
    return {r["source"]: f for r in rows if (f := factor(rows, r["source"])) != 1.0}


def words(rows: list[dict[str, Any]]) -> str:
    """One line for the digest: each source kind's ratio and interval."""
    parts = []
    for r in rows:
        if r["ratio"] is None:
            continue
        ci = f", 95% CI {r['interval'][0]:.2f}–{r['interval'][1]:.2f}" if r["interval"] else ""
        parts.append(f"{r['source']} {r['ratio']:.2f}× (n {r['n']}{ci})")
    return "; ".join(parts)
