"""A decision in words: the one place that turns the promotion criteria into text.

Every place that shows criteria uses these: ``decide``'s reason paragraph, the command line
(``autobench decide``, ``autobench sweep``), the sweep's task log, ``BENCHMARK_REPORT.md``, the
archived note, the web page and the digest's technical log.

- :func:`value_text`: a criterion's measured value as a short phrase (``p = 0.0012, t = 6.1, df = 2``);
- :func:`lines`: one ``PASS``/``FAIL`` line per criterion (terminal, task log);
- :func:`markdown_table`: the criteria as a Markdown table, every cell escaped;
- :func:`reason`: the paragraph a person can audit, recorded in the decision.

A criterion is read by attribute or by key, so the decision's typed criteria, the criteria
:mod:`~autobench.experiments.promotion` computes and a decision read back as plain JSON all work.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autobench.schemas import Decision


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.4f}"


def _plain(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def regression_text(value: Any) -> str:
    """``latency +2.0%, memory not reported``."""
    value = value if isinstance(value, Mapping) else {}
    bits = []
    for key, label in (("latency_change_pct", "latency"), ("memory_change_pct", "memory")):
        v = value.get(key)
        bits.append(f"{label} {v:+.1f}%" if _number(v) else f"{label} not reported")
    return ", ".join(bits)


def value_text(criterion: Any) -> str:
    """A criterion's measured value as a short phrase (never raises on an odd value)."""
    name, value, detail = _get(criterion, "name"), _get(criterion, "value"), _get(criterion, "detail") or ""
    try:
        if name == "improvement":
            return "no runs" if value is None else f"{value:+.4f}"
        if name == "significance":
            return "not computable" if value is None else f"p = {value:.4g}" + (f", {detail}" if detail else "")
        if name == "regression":
            return regression_text(value)
        if name == "reproducibility" and isinstance(value, Mapping):
            if "std_ratio" in value:  # production_noise: against production's own std
                if not _number(value.get("std_ratio")):
                    return f"{value.get('seeds', '?')} seed(s), std against production's: n/a"
                return (f"{value.get('seeds', '?')} seed(s), std {value['std_ratio']:.2f}× production's "
                        f"(limit {value.get('limit', float('nan')):.2f})")
            pct = value.get("std_pct_of_mean")
            spread = f"{pct:.3g}%" if _number(pct) else "n/a"
            return f"{value.get('seeds', '?')} seed(s), std {spread} of the mean"
        if name == "projection" and isinstance(value, Mapping):
            if value.get("current_rank"):
                return f"rank #{value['current_rank']} → #{value.get('projected_rank', '?')}"
            return "not ranked"
    except (TypeError, ValueError, KeyError):
        pass
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def rows(criteria: Iterable[Any]) -> list[tuple[str, bool, str, str]]:
    """(name, passed, value in words, requirement) per criterion."""
    return [(str(_get(c, "name")), bool(_get(c, "passed")), value_text(c), str(_get(c, "requirement") or ""))
            for c in criteria]


def lines(criteria: Iterable[Any], indent: str = "  ") -> list[str]:
    """``  PASS improvement      +0.0091  (needs mean paired gain ≥ 0.005 …)`` per criterion."""
    return [f"{indent}{'PASS' if passed else 'FAIL'} {name:<16} {value}  (needs {requirement})"
            for name, passed, value, requirement in rows(criteria)]


def markdown_table(criteria: Iterable[Any]) -> list[str]:
    """The criteria as a Markdown table (lines), every cell escaped; a failed one in bold."""
    from autobench.escaping import md_cell

    out = ["| criterion | passed | value | requirement |", "| --- | --- | --- | --- |"]
    for name, passed, value, requirement in rows(criteria):
        out.append(f"| {name} | {'yes' if passed else '**no**'} | {md_cell(value)} | {md_cell(requirement)} |")
    return out


def failed_names(criteria: Iterable[Any]) -> list[str]:
    return [str(_get(c, "name")) for c in criteria if not _get(c, "passed")]


def reason(hypothesis_id: str, title: str, decision: Decision, threshold: float, *,
           candidate_mean: float | None, production_mean: float | None) -> str:
    """The one paragraph recorded in the decision: outcome, evidence, criteria, the policy's word."""
    ev = decision.evidence
    crits = {c.name: c for c in decision.criteria}
    parts: list[str] = []
    head = {"promote": "is promoted", "reject": "is rejected", "extend": "needs more evidence"}[decision.decision]
    if decision.status == "failed":
        head = "failed"
    parts.append(f"{hypothesis_id} ({title}) {head}.")
    if ev.seeds:
        ci = (decision.comparison or {}).get("ci95_diff")
        ci_text = f" (95% CI {ci[0]:+.4f} to {ci[1]:+.4f})" if ci else ""
        gain = crits["improvement"].value if "improvement" in crits else None
        parts.append(f"On {len(ev.seeds)} paired seed(s) ({', '.join(map(str, ev.seeds))}) its validation {ev.metric} "
                     f"averages {_plain(candidate_mean)} against production's {_plain(production_mean)}, a gain of "
                     f"{_signed(gain)}{ci_text} where {threshold:g} is required.")
        margin = decision.margin or {}
        if _number(margin.get("lower_bound")) and _number(margin.get("confidence")):
            rule = ("the margin rule promotes only above it" if margin.get("rule") == "margin"
                    else "the estimate rule reads the mean")
            parts.append(f"Against the threshold: 95% lower bound {_signed(margin['lower_bound'])}, "
                         f"confidence {margin['confidence']:.3f} that the gain ≥ {threshold:g} ({rule}).")
    elif ev.fast:
        parts.append(f"Only the fast validation has run: {ev.fast.get('screen', '')}.")
    else:
        parts.append("No runs yet.")
    if decision.status == "failed":
        parts.append(f"Cause: {decision.policy['why']}. A broken config gets no more compute.")
    elif decision.decision == "promote":
        pj = decision.projection
        where = (f" On {pj['leaderboard']} the projected rank is #{pj['projected_rank']} "
                 f"(today #{pj['current_rank']}), P(#1) = {pj['p_first']:.2f}." if pj.get("current_rank") else "")
        parts.append(f"All five criteria are met: paired t-test p = {crits['significance'].value:.4g}; "
                     f"{regression_text(crits['regression'].value)}; {value_text(crits['reproducibility'])}.{where}")
    else:
        failed = [c for c in decision.criteria if not c.passed]
        passed = [c.name for c in decision.criteria if c.passed]
        if failed:
            parts.append("Failed: " + "; ".join(f"{c.name} ({value_text(c)}; needs {c.requirement})"
                                                for c in failed) + ".")
        if passed:
            parts.append(f"Met: {', '.join(passed)}.")
    tail = f"Seed policy {decision.policy['name']}: {decision.policy['why']}."
    if decision.decision == "extend" and decision.next_runs:
        nr = decision.next_runs
        tail += f" Next: {nr['mode']} run(s) on seed(s) {', '.join(map(str, nr['seeds']))}."
    parts.append(tail)
    return " ".join(parts)


def statistics_lines(decision: Decision) -> list[str]:
    """The gain against the threshold and the decision's stream-wide test, as Markdown list items
    (the digest's technical log and BENCHMARK_REPORT.md)."""
    from autobench.escaping import md_text

    out = []
    m = decision.margin or {}
    if _number(m.get("lower_bound")) and _number(m.get("confidence")):
        out.append(f"- against the threshold ({md_text(str(m['rule']))} rule): 95% lower bound "
                   f"{m['lower_bound']:+.4f}, confidence {m['confidence']:.3f} that the gain ≥ {m['threshold']:g}")
    words = confirmation_words(decision)
    if words:
        out.append(f"- {md_text(words)}")
    f = decision.fdr
    if f:
        out.append(f"- stream-wide test #{f['test']} ({f['procedure']}, budget {f['budget']:g}): level "
                   f"{f['level']:.3g}, p = {f['p_value']:.3g}, {'a discovery' if f['discovery'] else 'no discovery'}"
                   f"; wealth {f['wealth_before']:.4g} → {f['wealth_after']:.4g}"
                   + ("" if f.get("enforced") else " (recorded, not enforced)"))
    return out


def confirmation_words(decision: Decision | dict[str, Any]) -> str:
    """The promotion's confirmation on fresh seeds in words ("" when it has none)."""
    conf = _get(decision, "confirmation") or {}
    if not conf:
        return ""
    seeds = ", ".join(str(s) for s in conf.get("seeds", []))
    if conf.get("outcome") == "pending":
        return f"confirming on fresh seeds {seeds} (production has its config meanwhile)"
    gain, interval, selected = conf.get("gain"), conf.get("interval"), conf.get("selection_gain")
    measured = ""
    if _number(gain):
        measured = f": gain {gain:+.4f}" + (f", 95% interval [{interval[0]:+.4f}, {interval[1]:+.4f}]"
                                             if interval else "")
        if _number(selected):
            measured += f" (the selection estimated {selected:+.4f})"
    head = {"confirmed": "confirmed", "rolled_back": "rolled back", "unconfirmed": "not confirmed"}.get(
        conf.get("outcome"), str(conf.get("outcome")))
    tail = f"; {conf['why']}" if conf.get("outcome") != "confirmed" and conf.get("why") else ""
    return f"{head} on fresh seeds {seeds}{measured}{tail}"
