"""``BENCHMARK_REPORT.md``: one experiment's evidence and decision, written beside its runs.

Sections: the header (date, task, dataset, metric, seeds, hardware), Summary (the decision's
reason), Results Table (per config and per seed), Statistical Analysis (the paired test and the
criteria table), Configuration Details, Failure Log, Reproduction Instructions. Titles, reasons
and crash messages carry web and LLM text: they are escaped, and the config is fenced with more
backticks than it holds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

from autobench import fsio
from autobench.clock import iso
from autobench.escaping import md_text
from autobench.experiments import explain, results
from autobench.schemas import PRODUCTION_ID, QUEUE, REGISTRY, Decision, Hypothesis, Registry
from autobench.store import StateStore


def _table_row(label: str, values: list[float]) -> str:
    if not values:
        return f"| {label} | 0 | — | — | — | — |"
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return f"| {label} | {n} | {mean:.4f} | {sd:.4f} | {min(values):.4f} | {max(values):.4f} |"


def write(store: StateStore, hid: str, decision: Decision, now: dt.datetime) -> Path:
    """Write the report for ``decision`` on ``hid``; its path."""
    registry: Registry = store.load(REGISTRY)
    home = store.home
    chash = decision.config_hash
    hyp = next(h for h in store.load(QUEUE).hypotheses if h.id == hid)
    cand_full, cand_failed = results.runs(home, hid, chash, "full")
    cand_fast, fast_failed = results.runs(home, hid, chash, "fast")
    prod_full, _ = results.runs(home, PRODUCTION_ID, decision.production_hash, "full")
    lines = [
        *_header(registry, hyp, decision, results.environment(home, hid, chash), now),
        *_results_table(hid, decision),
        *_statistics(decision),
        *_configuration(registry, hyp, decision),
        *_failure_log(hid, fast_failed, cand_failed),
        *_reproduction(hid, decision, cand_fast, len(cand_full), len(prod_full)),
    ]
    path = results.report_path(home, hid, chash)
    path.parent.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, "\n".join(lines))
    return path


def _header(registry: Registry, hyp: Hypothesis, decision: Decision, env: dict[str, Any],
            now: dt.datetime) -> list[str]:
    """The title block (date, task, dataset, metric, seeds, hardware) and the Summary."""
    ev = decision.evidence
    return [
        "# Benchmark Report", "",
        f"**Date:** {iso(now)[:10]}",
        f"**Task:** {hyp.id}: {md_text(hyp.title)} vs production ({md_text(registry.our_solution.name)})",
        f"**Dataset:** {registry.our_solution.solution}, validation split "
        "(the test split is evaluated once, after a promotion)",
        f"**Primary Metric:** {ev.metric} ({'higher' if ev.higher_is_better else 'lower'} is better)",
        f"**Seeds per config:** {len(ev.seeds)} paired ({', '.join(map(str, ev.seeds)) or 'none'})",
        f"**Hardware:** {env.get('device', 'unknown')} (torch {env.get('torch', '?')}, "
        f"{env.get('threads', '?')} threads)", "",
        "## Summary", "", md_text(decision.reason, multiline=True), "",
    ]


def _results_table(hid: str, decision: Decision) -> list[str]:
    """Both configs' summary rows, then the paired scores seed by seed."""
    ev = decision.evidence
    lines = [
        "## Results Table", "",
        f"| config | seeds | mean {ev.metric} | std | min | max |", "| --- | --- | --- | --- | --- | --- |",
        _table_row(f"production ({decision.production_hash})", [float(ev.control[str(s)]) for s in ev.seeds]),
        _table_row(f"{hid} ({decision.config_hash})", [float(ev.candidate[str(s)]) for s in ev.seeds]),
        "", "Per seed:", "", f"| seed | production | {hid} | difference |", "| --- | --- | --- | --- |",
    ]
    for s in ev.seeds:
        c, d = float(ev.control[str(s)]), float(ev.candidate[str(s)])
        lines.append(f"| {s} | {c:.4f} | {d:.4f} | {d - c:+.4f} |")
    return lines


def _statistics(decision: Decision) -> list[str]:
    """The paired comparison (t-test, intervals, Wilcoxon, effect size) and the criteria table."""
    comp = decision.comparison or {}
    lines = ["", "## Statistical Analysis", ""]
    if comp:
        lines += [f"- {comp['test']}: t = {comp['t_statistic']:.3f}, df = {comp['df']:.0f}, p = {comp['p_ttest']:.4g}",
                  f"- mean difference {comp['mean_diff']:+.4f}, "
                  f"95% CI [{comp['ci95_diff'][0]:+.4f}, {comp['ci95_diff'][1]:+.4f}] (t); "
                  + (f"[{boot[0]:+.4f}, {boot[1]:+.4f}] " if (boot := comp.get("bootstrap_ci95_diff")) else
                     "bootstrap ") + f"({comp['bootstrap_method']})",
                  f"- {comp['wilcoxon_method']}: p = {comp['p_wilcoxon']:.4g}",
                  f"- Cohen's {comp['cohens_d_kind']}: {comp['cohens_d']:.3g}"]
    else:
        lines.append("- fewer than two paired seeds: no test")
    lines += explain.statistics_lines(decision)
    return lines + ["", "Promotion criteria:", "", *explain.markdown_table(decision.criteria)]


def _configuration(registry: Registry, hyp: Hypothesis, decision: Decision) -> list[str]:
    """The decision line, then both configs as YAML, fenced with more backticks than it holds."""
    import yaml

    promoted = decision.decision == "promote" and decision.status != "rolled_back"
    config_yaml = yaml.safe_dump({"production": registry.our_solution.config if not promoted else
                                  "(now the candidate's config)",
                                  hyp.id: {"config_patch": hyp.implementation.config_patch,
                                           "config_hash": decision.config_hash}},
                                 sort_keys=False).rstrip()
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", config_yaml)), default=0))  # never closed early
    return ["", f"Decision: **{decision.decision}** (status {decision.status}); "
            f"seed policy {decision.policy['name']}: {md_text(decision.policy['why'])}.",
            "", "## Configuration Details", "", f"{fence}yaml", config_yaml, fence]


def _failure_log(hid: str, fast_failed: dict[int, str], full_failed: dict[int, str]) -> list[str]:
    """Each failed seed's last error (escaped: crash messages carry arbitrary text)."""
    failures = [(m, s, e) for m, fails in (("fast", fast_failed), ("full", full_failed))
                for s, e in sorted(fails.items())]
    return ["", "## Failure Log", "", *([f"- {hid} {m} seed {s}: {md_text(e)}" for m, s, e in failures] or ["- none"])]


def _reproduction(hid: str, decision: Decision, cand_fast: dict[int, Any], n_cand_full: int,
                  n_prod_full: int) -> list[str]:
    """The fast validation's scores, the commands that rerun the experiment, and where its runs are."""
    seeds = decision.evidence.seeds
    fast_line = ", ".join(f"seed {s}: {m.get(decision.evidence.metric)}" for s, m in cand_fast.items()) or "none"
    seed_list = ",".join(map(str, seeds)) or "1,2,3"
    return ["", f"Fast validation: {fast_line}.", "", "## Reproduction Instructions", "", "```bash",
            "autobench init --home ./repro                     # or use the state folder these runs are in",
            f"autobench run production --seeds {seed_list} --home ./repro",
            f"autobench run {hid} --seeds {seed_list} --home ./repro",
            f"autobench decide {hid} --home ./repro --dry-run",
            "```", "",
            f"Runs: `{results.config_folder(Path(), hid, decision.config_hash).as_posix()}/` and "
            f"`{results.config_folder(Path(), PRODUCTION_ID, decision.production_hash).as_posix()}/`; "
            f"{n_cand_full} full and {len(cand_fast)} fast candidate runs, "
            f"{n_prod_full} production full runs on disk.", ""]
