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

from autobench import fsio
from autobench.clock import iso
from autobench.experiments import explain, results
from autobench.schemas import PRODUCTION_ID, QUEUE, REGISTRY, Decision, Registry
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
    import yaml

    from autobench.escaping import md_text

    registry: Registry = store.load(REGISTRY)
    home = store.home
    chash, prod_hash = decision.config_hash, decision.production_hash
    ev = decision.evidence
    cand_full, cand_failed = results.runs(home, hid, chash, "full")
    cand_fast, fast_failed = results.runs(home, hid, chash, "fast")
    prod_full, _ = results.runs(home, PRODUCTION_ID, prod_hash, "full")
    env = results.environment(home, hid, chash)
    hyp = next(h for h in store.load(QUEUE).hypotheses if h.id == hid)
    metric, seeds = ev.metric, ev.seeds
    comp = decision.comparison or {}
    lines = [
        "# Benchmark Report", "",
        f"**Date:** {iso(now)[:10]}",
        f"**Task:** {hyp.id}: {md_text(hyp.title)} vs production ({md_text(registry.our_solution.name)})",
        f"**Dataset:** {registry.our_solution.solution}, validation split "
        "(the test split is evaluated once, after a promotion)",
        f"**Primary Metric:** {metric} ({'higher' if ev.higher_is_better else 'lower'} is better)",
        f"**Seeds per config:** {len(seeds)} paired ({', '.join(map(str, seeds)) or 'none'})",
        f"**Hardware:** {env.get('device', 'unknown')} (torch {env.get('torch', '?')}, "
        f"{env.get('threads', '?')} threads)", "",
        "## Summary", "", md_text(decision.reason, multiline=True), "",
        "## Results Table", "",
        f"| config | seeds | mean {metric} | std | min | max |", "| --- | --- | --- | --- | --- | --- |",
        _table_row(f"production ({prod_hash})", [float(ev.control[str(s)]) for s in seeds]),
        _table_row(f"{hid} ({chash})", [float(ev.candidate[str(s)]) for s in seeds]),
        "", "Per seed:", "", f"| seed | production | {hid} | difference |", "| --- | --- | --- | --- |",
    ]
    for s in seeds:
        c, d = float(ev.control[str(s)]), float(ev.candidate[str(s)])
        lines.append(f"| {s} | {c:.4f} | {d:.4f} | {d - c:+.4f} |")
    lines += ["", "## Statistical Analysis", ""]
    if comp:
        lines += [f"- {comp['test']}: t = {comp['t_statistic']:.3f}, df = {comp['df']:.0f}, p = {comp['p_ttest']:.4g}",
                  f"- mean difference {comp['mean_diff']:+.4f}, "
                  f"95% CI [{comp['ci95_diff'][0]:+.4f}, {comp['ci95_diff'][1]:+.4f}] (t); "
                  f"[{comp['bootstrap_ci95_diff'][0]:+.4f}, {comp['bootstrap_ci95_diff'][1]:+.4f}] "
                  f"({comp['bootstrap_method']})",
                  f"- {comp['wilcoxon_method']}: p = {comp['p_wilcoxon']:.4g}",
                  f"- Cohen's {comp['cohens_d_kind']}: {comp['cohens_d']:.3g}"]
    else:
        lines.append("- fewer than two paired seeds: no test")
    lines += ["", "Promotion criteria:", "", *explain.markdown_table(decision.criteria)]
    config_yaml = yaml.safe_dump({"production": registry.our_solution.config if decision.decision != "promote" else
                                  "(now the candidate's config)",
                                  hid: {"config_patch": hyp.implementation.config_patch, "config_hash": chash}},
                                 sort_keys=False).rstrip()
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", config_yaml)), default=0))  # never closed early
    lines += ["", f"Decision: **{decision.decision}** (status {decision.status}); "
              f"seed policy {decision.policy['name']}: {md_text(decision.policy['why'])}.",
              "", "## Configuration Details", "", f"{fence}yaml",
              config_yaml, fence, "", "## Failure Log", ""]
    failures = [(m, s, e) for m, fails in (("fast", fast_failed), ("full", cand_failed))
                for s, e in sorted(fails.items())]
    lines += [f"- {hid} {m} seed {s}: {md_text(e)}" for m, s, e in failures] or ["- none"]
    fast_line = ", ".join(f"seed {s}: {m.get(metric)}" for s, m in cand_fast.items()) or "none"
    seed_list = ",".join(map(str, seeds)) or "1,2,3"
    lines += ["", f"Fast validation: {fast_line}.", "", "## Reproduction Instructions", "", "```bash",
              "autobench init --home ./repro                     # or use the state folder these runs are in",
              f"autobench run production --seeds {seed_list} --home ./repro",
              f"autobench run {hid} --seeds {seed_list} --home ./repro",
              f"autobench decide {hid} --home ./repro --dry-run",
              "```", "",
              f"Runs: `{results.config_folder(Path(), hid, chash).as_posix()}/` and "
              f"`{results.config_folder(Path(), PRODUCTION_ID, prod_hash).as_posix()}/`; "
              f"{len(cand_full)} full and {len(cand_fast)} fast candidate runs, "
              f"{len(prod_full)} production full runs on disk.", ""]
    path = results.report_path(home, hid, chash)
    path.parent.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, "\n".join(lines))
    return path
