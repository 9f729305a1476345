"""Technique extraction: from a paper's title and abstract to what it would mean for our solution.

For each relevant paper: every technique of the catalog (:mod:`autobench.research.technique_catalog`)
it credits (an architectural change, training trick, data strategy or inference optimisation),
with an applicability verdict, an effort, an impact estimate from the paper's reported gains
(:mod:`autobench.research.gains`) and a priority of impact × 1/effort.

:func:`extract_techniques` matches the catalog sentence by sentence. A technique's impact comes
from the largest gain reported in the sentence that names it, else from the paper's largest gain
(on one of our leaderboards when the paper names one), else it is unknown (None, which
prioritises as Low). ``supersedes`` drops a technique that another one found includes
(cosine-with-warmup includes linear warmup). Standard library only at import time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autobench.research.gains import (
    Leaderboards,
    ReportedGain,
    impact_bucket,
    parse_gains,
    split_sentences,
)
from autobench.research.technique_catalog import Technique


def _scores() -> tuple[Mapping[str, int], Mapping[str, int]]:
    from autobench.schemas import EFFORT_SCORE, IMPACT_SCORE

    return IMPACT_SCORE, EFFORT_SCORE


@dataclass
class Extracted:
    """A technique found in a paper, with the impact its reported gains suggest."""

    technique: Technique
    impact: str | None
    evidence: str
    gain: float | None = None

    @property
    def priority(self) -> float:
        """Impact × 1/effort (an unknown impact counts as Low)."""
        impact_score, effort_score = _scores()
        return impact_score[self.impact or "Low"] / effort_score[self.technique.effort]

    def as_dict(self) -> dict[str, Any]:
        t = self.technique
        return {"name": t.name, "category": t.category, "effort": t.effort, "impact": self.impact,
                "config_patch": dict(t.config_patch), "evidence": self.evidence}


_ABLATION = re.compile(r"\b(?:without|w/o|removing|remove|ablating|ablate|dropping|no)\b(?:\s+\S+){0,2}\s*$",
                       re.IGNORECASE)


def _best_gain(gains: Sequence[ReportedGain]) -> float | None:
    if not gains:
        return None
    ours = [g for g in gains if g.leaderboard is not None]
    return max(g.gain for g in (ours or gains))


def extract_techniques(text: str, catalog: Sequence[Technique], leaderboards: Leaderboards = ()
                       ) -> list[Extracted]:
    """Every catalog technique named in ``text``, by priority (highest first), ties by name."""
    sentences = split_sentences(text)
    gains_by_sentence = [parse_gains(s, leaderboards) for _, s in sentences]
    paper_best = _best_gain([g for gs in gains_by_sentence for g in gs])
    found: dict[str, Extracted] = {}
    for technique in catalog:
        for (_, sentence), gains in zip(sentences, gains_by_sentence, strict=True):
            hit = technique.search(sentence)
            if hit:
                local = _best_gain(gains)
                if local is not None and local < 0 and _ABLATION.search(sentence[:hit.start()][-40:]):
                    local = -local  # "without X, accuracy drops by 0.5%": X is worth +0.5%
                gain = local if local is not None else paper_best
                found[technique.name] = Extracted(technique, impact_bucket(gain), " ".join(sentence.split()), gain)
                break
    superseded = {s.casefold() for e in found.values() for s in e.technique.supersedes}
    kept = [e for name, e in found.items() if name.casefold() not in superseded]
    return sorted(kept, key=lambda e: (-e.priority, e.technique.name))


def extract(text: str, catalog: Sequence[Technique], leaderboards: Leaderboards = ()) -> dict[str, Any]:
    """``{"techniques": [...], "reported_gains": [...]}`` for one paper's title + abstract."""
    return {
        "techniques": [e.as_dict() for e in extract_techniques(text, catalog, leaderboards)],
        "reported_gains": [g.as_dict() for g in parse_gains(text, leaderboards)],
    }


def leaderboards_of(registry: Any) -> list[tuple[str, list[str]]]:
    """``[(name, aliases)]`` of a :class:`~autobench.schemas.Registry` (or its plain-dict form)."""
    boards = registry["target_leaderboards"] if isinstance(registry, Mapping) else registry.target_leaderboards
    out = []
    for lb in boards:
        if isinstance(lb, Mapping):
            out.append((lb["name"], list(lb.get("aliases") or [])))
        else:
            out.append((lb.name, list(lb.aliases)))
    return out


__all__ = ["Extracted", "extract", "extract_techniques", "leaderboards_of"]
