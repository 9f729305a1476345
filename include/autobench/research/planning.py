"""What a research-ingest cycle proposes to try: a disposition for each technique a paper credits,
and hypotheses from papers and from the gap-size strategy.

A technique becomes a hypothesis when its config patch is non-empty (else it cannot be applied
without a redesign), production does not have it, no hypothesis ever tried it, nothing planned
this cycle has it, and the gap to #1 on its leaderboards is not beyond tuning
(:data:`~autobench.schemas.ARCHITECTURAL_GAP_PCT`); at most :data:`MAX_NEW_HYPOTHESES` a cycle.

The gap-size strategy proposes hypotheses no paper suggested, per leaderboard where we are
behind: a gap under :data:`FINE_GAP_PCT` gets a fine-grained search (learning rate, weight decay),
a larger one component ablations (heads, depth, width), and one beyond tuning no experiment at
all (a note for the digest, whose call an escalation is). Gaps are in points of the fraction
scale (0.024 behind is 2.4).
"""

from __future__ import annotations

from typing import Any

from autobench.escaping import md_text
from autobench.hypothesis_queue import patch_applied
from autobench.research.research_log import PRIORITIZED, short
from autobench.schemas import ARCHITECTURAL_GAP_PCT, CLOSED_STATUSES, Registry

BUCKET_GAIN = {"Low": 0.005, "Medium": 0.02, "High": 0.04}  # a technique's expected gain without a reported one
MAX_NEW_HYPOTHESES = 10  # per cycle
FINE_GAP_PCT = 1.0  # below: a fine-grained search; from here to ARCHITECTURAL_GAP_PCT: component ablations
GAP_STRATEGY: dict[str, list[tuple[str, str, dict[str, Any], str]]] = {
    # (title, change, patch, effort), for the reference solution's knobs
    "fine": [
        ("A higher learning rate converges further in the same budget", "lr × 5/3", {"lr": "×5/3"}, "Low"),
        ("A lower learning rate settles into a better optimum", "lr × 2/3", {"lr": "×2/3"}, "Low"),
        ("Weight decay regularises the recall model", "weight_decay 0 → 0.01", {"weight_decay": 0.01}, "Low"),
    ],
    "component": [
        ("More attention heads separate more keys", "heads × 2", {"heads": "×2"}, "Medium"),
        ("A deeper model composes key matching and value lookup", "depth + 1", {"depth": "+1"}, "Medium"),
        ("A wider model stores more key-value pairs", "width × 2", {"width": "×2"}, "Medium"),
    ],
}


def gaps(registry: Registry) -> dict[str, float]:
    """Gap to #1 per leaderboard in points of the fraction scale (positive: we are behind)."""
    out: dict[str, float] = {}
    ours = registry.our_solution
    for lb in registry.target_leaderboards:
        score = ours.published_scores.get(lb.name, ours.current_scores.get(lb.name))
        comps = [c.latest_score for c in registry.competitors if c.source == lb.name and c.latest_score is not None]
        if score is None or not comps:
            continue
        best = max(comps) if lb.higher_is_better else min(comps)
        gap = (best - score) if lb.higher_is_better else (score - best)
        out[lb.name] = round(100 * gap, 4)
    return out


def resolve_patch(patch: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Relative patches of the gap strategy ("×2", "+1", "×5/3") against production's config."""
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if isinstance(value, str) and value[:1] in "×+" and key in config and isinstance(config[key], (int, float)):
            base = config[key]
            if value.startswith("×"):
                num, _, den = value[1:].partition("/")
                new = base * float(num) / float(den or 1)
            else:
                new = base + float(value[1:])
            out[key] = int(round(new)) if isinstance(base, int) and not isinstance(base, bool) else round(new, 6)
        else:
            out[key] = value
    return out


def tried(patch: dict[str, Any], queue) -> Any:
    """The hypothesis (any status) whose config patch is ``patch``, else None."""
    return next((h for h in queue.hypotheses if h.implementation.config_patch == patch), None)


def estimated_gain(item, gains_found, targets: list[str]) -> float:
    """The gain the paper reports on one of ``targets`` (capped at 0.1), else its impact bucket's."""
    attributed = [g.gain for g in gains_found if g.gain > 0 and (g.leaderboard is None or g.leaderboard in targets)]
    if attributed:
        return round(min(max(attributed), 0.1), 4)
    return BUCKET_GAIN.get(item.impact or "Low", BUCKET_GAIN["Low"])


def hypothesis(registry: Registry, tech, patch, gain: float, targets: list[str], source: str,
               title: str) -> dict[str, Any]:
    """A new hypothesis (the queue's input form) for applying ``tech`` from the paper ``title``."""
    board = targets[0]
    ours = registry.our_solution.published_scores.get(board, registry.our_solution.current_scores.get(board))
    claim = (f"Applying {tech.name.lower()} to our solution will improve {board} from {ours:.3f} to ≥{ours + gain:.3f}"
             if ours is not None else f"Applying {tech.name.lower()} will improve {board} by at least {gain:.3f}")
    change = tech.description or ", ".join(f"{k}: {v}" for k, v in patch.items())
    return {
        "title": f"{tech.name} (from \"{short(title, 70)}\")",
        "claim": claim,
        "source": source,
        "target_leaderboards": targets,
        "implementation": {"change": change, "effort": tech.effort, "estimated_gain": gain, "config_patch": patch},
    }


class Planner:
    """One cycle's plan: hypotheses proposed so far, each patch once, against the queue as it was."""

    def __init__(self, registry: Registry, queue):
        self.registry = registry
        self.queue = queue
        self.production = registry.our_solution.config
        self.gaps = gaps(registry)
        self.hypotheses: list[dict[str, Any]] = []
        self._patches: list[dict[str, Any]] = []

    def _take(self, patch: dict[str, Any]) -> bool:
        """Reserve ``patch`` for a new hypothesis (False: full, in production, tried or planned)."""
        if len(self.hypotheses) >= MAX_NEW_HYPOTHESES:
            return False
        if patch_applied(patch, self.production) or tried(patch, self.queue) or patch in self._patches:
            return False
        self._patches.append(patch)
        return True

    def targets(self, named: list[str]) -> list[str]:
        """The leaderboards a paper's hypotheses aim at: those it names, else the widest gap, else
        the first leaderboard."""
        return list(named) or sorted(self.gaps, key=lambda b: -self.gaps[b])[:1] or \
            [self.registry.target_leaderboards[0].name]

    def dispose(self, item, targets: list[str], gains_found, source: str, paper_title: str) -> str:
        """What is done about one extracted technique: :data:`PRIORITIZED` (a hypothesis was
        planned) or why not, in words for the research log."""
        patch = dict(item.technique.config_patch)
        if not patch:
            return "not applicable to our architecture without a redesign"
        if patch_applied(patch, self.production):
            return "already in production"
        done = tried(patch, self.queue)
        if done is not None:
            word = done.status if done.status in CLOSED_STATUSES else f"{done.status} (open)"
            return f"already tried: {md_text(done.id)} {word}"
        worst = max((self.gaps.get(t, 0.0) for t in targets), default=0.0)
        if worst > ARCHITECTURAL_GAP_PCT:
            return (f"gap {worst:.1f} points > {ARCHITECTURAL_GAP_PCT:g}: an architectural change is needed; "
                    "noted for the digest")
        if not self._take(patch):
            return "already planned this cycle"
        gain = estimated_gain(item, gains_found, targets)
        gap_text = ", ".join(f"gap to #1 on {t} = {self.gaps[t] / 100:.3f}" for t in targets if t in self.gaps)
        self.hypotheses.append(hypothesis(self.registry, item.technique, patch, gain, targets,
                                          source + (f" + gap analysis ({gap_text})" if gap_text else ""), paper_title))
        return PRIORITIZED

    def from_gaps(self) -> list[str]:
        """The gap-size strategy's hypotheses, widest gap first; the notes on gaps beyond tuning."""
        notes = []
        for board, gap in sorted(self.gaps.items(), key=lambda kv: -kv[1]):
            if gap <= 0:
                continue
            if gap > ARCHITECTURAL_GAP_PCT:
                notes.append(f"{board}: gap to #1 is {gap:.1f} points (> {ARCHITECTURAL_GAP_PCT:g}): architectural "
                             "change needed; escalation is the digest's call")
                continue
            band = "fine" if gap < FINE_GAP_PCT else "component"
            for title, change, relative, effort in GAP_STRATEGY[band]:
                patch = resolve_patch(relative, self.production)
                if not self._take(patch):
                    continue
                gain = min(gap / 100, BUCKET_GAIN["Low"])  # no evidence behind it: below the papers' hypotheses
                self.hypotheses.append({
                    "title": title,
                    "claim": f"{change} will improve {board} by at least {gain:.3f}",
                    "source": f"gap analysis (gap to #1 on {board} = {gap / 100:.3f}; "
                              f"{'fine-grained search' if band == 'fine' else 'component ablation'})",
                    "target_leaderboards": [board],
                    "implementation": {"change": change, "effort": effort, "estimated_gain": round(gain, 4),
                                       "config_patch": patch},
                })
        return notes
