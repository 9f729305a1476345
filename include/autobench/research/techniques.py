"""Technique extraction: from a paper's title and abstract to what it would mean for our solution.

Seed 002 §3.2 asks, for each relevant paper, for every architectural change, training trick,
data strategy or inference optimisation it credits, with an applicability verdict, an effort,
an impact estimate from the paper's reported gains, and a priority of impact × 1/effort.

The design is a *catalog*, not a model:

* :class:`Technique` entries live in ``autobench/research/catalog/techniques.yaml`` (package data), which
  a ``techniques.yaml`` in the state folder extends or overrides by name (``enabled: false``
  removes a shipped entry). Each entry carries case-insensitive regular expressions searched in
  title + abstract, an implementation effort, and a ``config_patch`` in the reference solution's
  knobs (:data:`RECALL_KNOBS`). An empty patch means "cannot be applied without a redesign": the
  technique is reported (``applies`` is False) but never becomes an automatic run.
  :func:`load_catalog` validates both files with pydantic and names the file, the entry and the
  field of any problem.
* :func:`parse_gains` reads reported gains ("+4.2% on MemoryBench", "by 3.1 points",
  "from 0.82 to 0.86") into fractions of the leaderboard's scale. It is deliberately
  conservative: a number needs an improvement cue next to it (a sign, "by", "improvement",
  "gain", "drops"...) and nothing that makes it a cost, a share of data or a confidence level;
  years, citations and parameter counts ("7B") never qualify.
* :func:`extract_techniques` matches the catalog sentence by sentence. A technique's impact comes
  from the largest gain reported in the sentence that names it, else from the paper's largest
  gain (on one of our leaderboards when the paper names one), else it is unknown (None, which
  prioritises as Low). ``supersedes`` drops a technique that another one found includes
  (cosine-with-warmup includes linear warmup).

Standard library only at import time (the catalog loader imports pydantic, yaml and the schemas
when called), so the module is cheap to import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from autobench.errors import StateError

CATEGORIES: tuple[str, ...] = ("architecture", "training", "data", "inference")
EFFORTS: tuple[str, ...] = ("Low", "Medium", "High")
CATALOG_FILE = "techniques.yaml"  # in the package's catalog/ folder and in the state folder


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _number(lo: float, hi: float | None = None, *, open_lo: bool = False) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        if v < lo or (open_lo and v == lo):
            return False
        return hi is None or v < hi
    return check


# The knobs of autobench.workloads.recall a technique may patch, with what each accepts (kept in
# step with recall.DEFAULTS and recall.resolve; tests/test_techniques.py checks the names).
# n_queries, vocab, val_size, eval_split, device and log_every define the task or the run, not
# the solution, so no technique touches them.
RECALL_KNOBS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "lr": (_number(0.0, open_lo=True), "a number > 0"),
    "schedule": (lambda v: v in ("constant", "cosine"), "constant or cosine"),
    "warmup": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    "width": (_positive_int, "an integer > 0"),
    "depth": (_positive_int, "an integer > 0"),
    "heads": (_positive_int, "an integer > 0"),
    "positional_encoding": (lambda v: v in ("none", "learned", "sinusoidal", "rotary"),
                            "none, learned, sinusoidal or rotary"),
    "dropout": (_number(0.0, 1.0), "a number in [0, 1)"),
    "weight_decay": (_number(0.0), "a number >= 0"),
    "steps": (_positive_int, "an integer > 0"),
    "batch_size": (_positive_int, "an integer > 0"),
    "n_pairs": (_positive_int, "an integer > 0"),
    "min_pairs": (lambda v: v is None or _positive_int(v), "an integer > 0 or null"),
}


def patch_problems(patch: Mapping[str, Any], knobs: Mapping[str, tuple[Callable[[Any], bool], str]] | None = None
                   ) -> list[tuple[str, str]]:
    """(knob, what is wrong) for each key of ``patch`` that is not a valid value of a known knob."""
    knobs = RECALL_KNOBS if knobs is None else knobs
    problems: list[tuple[str, str]] = []
    for key, value in patch.items():
        if key not in knobs:
            problems.append((str(key), f"unknown knob (known: {', '.join(knobs)})"))
        elif not knobs[key][0](value):
            problems.append((str(key), f"must be {knobs[key][1]} (got {value!r})"))
    return problems


# --------------------------------------------------------------------------- techniques


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Technique:
    """One catalog entry. ``applies`` is False when the patch is empty (redesign needed)."""

    name: str
    category: str
    effort: str
    patterns: tuple[str, ...]
    config_patch: dict[str, Any] = field(default_factory=dict, hash=False)
    description: str = ""
    applies: bool = True
    supersedes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(self.patterns))
        object.__setattr__(self, "supersedes", tuple(self.supersedes))
        if not self.config_patch:
            object.__setattr__(self, "applies", False)

    def search(self, text: str) -> re.Match[str] | None:
        """The first match of any of the patterns in ``text`` (case-insensitive)."""
        for pattern in self.patterns:
            found = _compile(pattern).search(text)
            if found:
                return found
        return None


def _entry_model() -> Any:
    """The pydantic model of one catalog entry (built on first use: pydantic is imported lazily)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field, field_validator

    class Entry(BaseModel):
        model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

        name: str = Field(min_length=1)
        category: Literal["architecture", "training", "data", "inference"] | None = None
        effort: Literal["Low", "Medium", "High"] | None = None
        patterns: list[str] | None = None
        config_patch: dict[str, Any] | None = None
        description: str | None = None
        supersedes: list[str] | None = None
        enabled: bool = True

        @field_validator("patterns")
        @classmethod
        def _compiles(cls, v: list[str] | None) -> list[str] | None:
            if v is None:
                return v
            if not v:
                raise ValueError("needs at least one pattern")
            for i, pattern in enumerate(v):
                try:
                    re.compile(pattern, re.IGNORECASE)
                except re.error as exc:
                    raise ValueError(f"[{i}] {pattern!r} is not a valid regular expression: {exc}") from None
            return v

    class Catalog(BaseModel):
        model_config = ConfigDict(extra="forbid")

        techniques: list[Entry] = Field(default_factory=list)

    return Catalog


def _read_catalog(text: str, source: str, *, complete: bool,
                  knobs: Mapping[str, tuple[Callable[[Any], bool], str]] | None) -> list[dict[str, Any]]:
    """Validated entries of one catalog file as dicts (only the keys the file sets)."""
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StateError(source, [("", f"not valid YAML: {' '.join(str(exc).split())}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StateError(source, [("", f"the top level must be a mapping with `techniques:` (got {type(data).__name__})")])
    raw = data.get("techniques")
    names = [e.get("name") if isinstance(e, dict) else None for e in raw] if isinstance(raw, list) else []

    def where(loc: tuple[Any, ...]) -> str:
        out = ""
        for i, part in enumerate(loc):
            if isinstance(part, int):
                out += f"[{part}]"
                if i == 1 and loc[0] == "techniques" and part < len(names) and names[part]:
                    out += f" ({names[part]})"
            else:
                out += ("." if out else "") + str(part)
        return out

    model = _entry_model()
    try:
        catalog = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (a typo?)"
            elif err["type"] == "missing":
                msg = "required but missing"
            elif err["type"] != "value_error":
                msg = f"{msg} (got {err.get('input')!r})"
            problems.append((where(tuple(err["loc"])), msg))
        raise StateError(source, problems) from None

    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    problems: list[tuple[str, str]] = []
    for i, entry in enumerate(catalog.techniques):
        label = f"techniques[{i}] ({entry.name})"
        key = entry.name.casefold()
        if key in seen:
            problems.append((f"{label}.name", f"{entry.name!r} appears twice"))
        seen.add(key)
        values = entry.model_dump(exclude_unset=True)
        if complete and entry.enabled:
            for required in ("category", "effort", "patterns"):
                if values.get(required) is None:
                    problems.append((f"{label}.{required}", "required but missing"))
        if entry.config_patch:
            for knob, msg in patch_problems(entry.config_patch, knobs):
                problems.append((f"{label}.config_patch.{knob}", msg))
        entries.append(values)
    if problems:
        raise StateError(source, problems)
    return entries


def _technique(values: Mapping[str, Any]) -> Technique:
    return Technique(
        name=values["name"],
        category=values["category"],
        effort=values["effort"],
        patterns=tuple(values["patterns"]),
        config_patch=dict(values.get("config_patch") or {}),
        description=values.get("description") or "",
        supersedes=tuple(values.get("supersedes") or ()),
    )


def load_catalog(home: Path | None = None, *,
                 knobs: Mapping[str, tuple[Callable[[Any], bool], str]] | None = None) -> list[Technique]:
    """The shipped catalog, extended and overridden by name by ``home / "techniques.yaml"``.

    A user entry whose name matches a shipped one (case-insensitive) replaces the keys it sets
    (so ``{name: dropout, config_patch: {dropout: 0.2}}`` only changes the patch); a new name
    must set category, effort and patterns; ``enabled: false`` removes the technique. Patches are
    checked against ``knobs`` (default :data:`RECALL_KNOBS`). Raises :class:`StateError` naming
    the file, the entry and the field of the first problem.
    """
    from importlib import resources

    shipped = resources.files("autobench.research") / "catalog" / CATALOG_FILE
    merged: dict[str, dict[str, Any]] = {}
    for values in _read_catalog(shipped.read_text(encoding="utf-8"), f"autobench/catalog/{CATALOG_FILE}",
                                complete=True, knobs=knobs):
        merged[values["name"].casefold()] = values
    if home is not None:
        user = Path(home) / CATALOG_FILE
        if user.exists():
            try:
                text = user.read_text(encoding="utf-8")
            except OSError as exc:
                raise StateError(CATALOG_FILE, [("", f"cannot be read: {exc}")]) from None
            overrides = _read_catalog(text, CATALOG_FILE, complete=False, knobs=knobs)
            problems = []
            for i, values in enumerate(overrides):
                key = values["name"].casefold()
                base = merged.get(key, {})
                combined = {**base, **values}
                if "config_patch" in values and not values["config_patch"]:
                    combined["config_patch"] = {}
                if combined.get("enabled", True) is False:
                    merged.pop(key, None)
                    continue
                missing = [k for k in ("category", "effort", "patterns") if combined.get(k) is None]
                if missing:
                    problems.extend((f"techniques[{i}] ({values['name']}).{k}",
                                     "required for a technique the shipped catalog does not have") for k in missing)
                    continue
                merged[key] = combined
            if problems:
                raise StateError(CATALOG_FILE, problems)
    return [_technique(v) for v in merged.values()]


# --------------------------------------------------------------------------- reported gains


@dataclass
class ReportedGain:
    """A gain a paper reports, as a fraction of the leaderboard's scale ("+4.2%" → 0.042)."""

    leaderboard: str | None
    metric: str | None
    gain: float
    unit: str  # "%", "points" or "absolute" (from X to Y)
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"leaderboard": self.leaderboard, "metric": self.metric, "gain": self.gain,
                "unit": self.unit, "text": self.text}


Leaderboards = Sequence[tuple[str, Sequence[str]]]

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n")
_NUM = r"\d{1,3}(?:\.\d+)?"
# a number with a unit that can be a score difference
_DELTA = re.compile(
    r"(?<![\w.,/])(?P<sign>[+\-−])?\s?(?P<num>" + _NUM + r")\s?"
    r"(?P<unit>%|percent(?:age)?[- ]points?\b|percent\b|pp\b|p\.p\.|points?\b|pts\b|pt\b)"
    r"(?P<qual>\s+(?:absolute|relative))?",
    re.IGNORECASE,
)
_FROM_TO = re.compile(
    r"\bfrom\s+(?P<a>\d{1,3}(?:\.\d+)?)\s?(?P<pa>%)?\s+to\s+(?P<b>\d{1,3}(?:\.\d+)?)\s?(?P<pb>%)?(?![\w.]*\d)(?!\s?[A-Za-z]\b)",
    re.IGNORECASE,
)
_UP = r"improv\w*|boost\w*|increas\w*|rais\w*|lift\w*|outperform\w*|surpass\w*|exceed\w*|beat\w*|gain\w*|better|advanc\w*|push\w*|enhanc\w*"
_DOWN = r"drop\w*|decreas\w*|reduc\w*|degrad\w*|fall\w*|fell|lower\w*|hurt\w*|declin\w*|underperform\w*|los[est]\w*|worsen\w*"
_AMOUNT = r"(?:\s+(?:up to|about|around|roughly|nearly|almost|over|more than|an average of|on average|a further|an additional|a|an))*"
# "<verb> ... by" immediately before the number ("improves accuracy on X by", "drops by")
_BY_BEFORE = re.compile(r"(?:(?P<up>" + _UP + r")|(?P<down>" + _DOWN + r"))\b[^.;:]{0,80}?\bby" + _AMOUNT + r"\s*$",
                        re.IGNORECASE)
# "adds 0.3 points", "gains 2%", "loses 1.1 points": a verb right before the number
_VERB_BEFORE = re.compile(r"\b(?:(?P<up>add(?:s|ed|ing)?|contribut\w*|yield\w*|bring\w*|brought|giv(?:es|ing)|gave|"
                          r"deliver\w*|gain(?:s|ed|ing)?|improv\w*|scor\w* (?:an? )?(?:additional|extra))|(?P<down>los(?:es|t|ing)|cost\w*))"
                          + _AMOUNT + r"\s*$", re.IGNORECASE)
# "a gain of", "an improvement of", "a drop of" immediately before the number
_OF_BEFORE = re.compile(r"\b(?:(?P<up>improvement|gain|increase|boost|lift|margin)|(?P<down>drop|decrease|reduction|degradation|decline|loss))s?"
                        r"\s+of" + _AMOUNT + r"\s*$", re.IGNORECASE)
# a noun or comparative right after the number ("4.2% improvement", "3 points higher")
_AFTER = re.compile(r"^\s*(?:absolute\s+|relative\s+|average\s+|mean\s+)*(?:(?P<up>improvement|gain|increase|boost|lift|higher|better|more accurate|above|ahead|over|advantage)"
                    r"|(?P<down>drop|decrease|reduction|degradation|decline|lower|worse|below|loss|behind))\b",
                    re.IGNORECASE)
_PLUS_CONTEXT = re.compile(r"^\s*(?:on|in|over|at|vs\.?|versus|relative|absolute|improvement|gain|accuracy|\(|,|\)|$)", re.IGNORECASE)
# what makes a percentage something other than a score difference
_NOT_A_GAIN_AFTER = re.compile(
    r"^\s*(?:confidence|ci\b|credible|significance|quantile|percentile|sparsity|of\s+(?:the\s+)?(?:\w+\s+)?"
    r"(?:data|dataset|parameters|params|tokens|samples|examples|training|cases|time|compute|budget|layers|heads|weights|memory|vocabulary))",
    re.IGNORECASE)
_COST = re.compile(r"\b(?:memory (?:usage|footprint|consumption|cost)|latency|flops|compute|parameters|params|training time|"
                   r"inference time|wall[- ]clock|speed|throughput|cost|model size|energy|perplexity|loss|error|runtime|kv[- ]cache)\b",
                   re.IGNORECASE)
_METRIC = re.compile(r"\b(?P<m>accuracy|acc\.?|exact[- ]match|em\b|f1(?:[- ]score)?|recall@\d+|precision@\d+|hit(?:s)?@\d+|"
                     r"mrr|ndcg(?:@\d+)?|bleu|rouge(?:-\w+)?|success rate|win rate|pass@\d+|auc|scores?)(?![\w@])", re.IGNORECASE)
_HYPER_BEFORE = re.compile(r"\b(?:dropout|learning[- ]rate|lr|weight[- ]decay|width|depth|heads|layers|steps|batch(?:[- ]size)?|"
                           r"warm[- ]?up|temperature|ratio|rate|size|length|window|context|tokens|parameters|dimension)\b[^.;]{0,20}$",
                           re.IGNORECASE)


def mention_regex(names: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching any of ``names`` regardless of case, hyphens, underscores and spaces.

    "MemoryBench" matches "memorybench", "Memory-Bench", "memory bench" but not "memory
    benchmarks" (the match must end at a word boundary).
    """
    alternatives = []
    for name in names:
        chars = [c for c in name if c not in " -_\t"]
        if not chars:
            continue
        body = r"[-\s_]?".join(re.escape(c) for c in chars)
        alternatives.append(body)
    if not alternatives:
        return None
    alternatives.sort(key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(alternatives) + r")(?![A-Za-z0-9])", re.IGNORECASE)


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs; decimals ("4.2") and abbreviations before lowercase stay whole."""
    out: list[tuple[int, str]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[start:m.start()]
        if piece.strip():
            out.append((start, piece))
        start = m.end()
    if text[start:].strip():
        out.append((start, text[start:]))
    return out


def _board_regexes(leaderboards: Leaderboards) -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for name, aliases in leaderboards:
        rx = mention_regex([name, *aliases])
        if rx is not None:
            out.append((name, rx))
    return out


def _nearest_board(sentence: str, pos: int, boards: list[tuple[str, re.Pattern[str]]]) -> str | None:
    best: tuple[int, str] | None = None
    for name, rx in boards:
        for m in rx.finditer(sentence):
            distance = min(abs(m.start() - pos), abs(m.end() - pos))
            if best is None or distance < best[0]:
                best = (distance, name)
    return best[1] if best else None


def _metric(sentence: str, pos: int) -> str | None:
    best: tuple[int, str] | None = None
    for m in _METRIC.finditer(sentence):
        word = m.group("m").lower().rstrip(".")
        if word == "acc":
            word = "accuracy"
        elif word == "scores":
            word = "score"
        distance = abs(m.start() - pos)
        if best is None or distance < best[0]:
            best = (distance, word)
    return best[1] if best else None


def _clause(sentence: str, start: int, end: int) -> tuple[str, str]:
    """The text of the sentence before ``start`` and after ``end``, cut at clause punctuation."""
    before = sentence[:start]
    cut = max(before.rfind(";"), before.rfind(":"))
    before = before[cut + 1:]
    after = sentence[end:]
    return before, after


def _fragment(sentence: str, start: int, end: int, width: int = 160) -> str:
    """The sentence, or a window of it around [start, end) cut at word boundaries."""
    text = " ".join(sentence.split())
    if len(sentence) <= width:
        return text
    lo = max(0, start - width // 2)
    hi = min(len(sentence), end + width // 2)
    while 0 < lo < start and not sentence[lo - 1].isspace():
        lo += 1
    while end < hi < len(sentence) and not sentence[hi].isspace():
        hi -= 1
    piece = " ".join(sentence[lo:hi].split())
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(sentence) else "")


def _score_number(raw: str, percent: bool) -> tuple[float, bool] | None:
    """(value, looks like a percentage) or None when it cannot be a score."""
    value = float(raw)
    if percent:
        return (value, True) if value <= 100 else None
    if "." not in raw:
        return None  # bare integers ("from 4 to 8", "from 2019 to 2021") are not scores
    if value <= 1.0:
        return value, False
    return (value, True) if value <= 100 else None


def parse_gains(text: str, leaderboards: Leaderboards = ()) -> list[ReportedGain]:
    """Score differences reported in ``text``, in fractions of the leaderboard's scale.

    ``leaderboards`` is ``[(name, aliases), ...]``; a gain is attributed to the leaderboard named
    nearest to it in its sentence (by name or alias, ignoring case, hyphens and spaces).
    """
    boards = _board_regexes(leaderboards)
    gains: list[ReportedGain] = []
    for _, sentence in split_sentences(text):
        taken: list[tuple[int, int]] = []
        for m in _FROM_TO.finditer(sentence):
            a = _score_number(m.group("a"), bool(m.group("pa") or m.group("pb")))
            b = _score_number(m.group("b"), bool(m.group("pa") or m.group("pb")))
            if a is None or b is None or a[1] != b[1]:
                continue
            before, _ = _clause(sentence, m.start(), m.end())
            if _HYPER_BEFORE.search(before[-40:]) and not _METRIC.search(before[-40:]):
                continue  # "increase dropout from 0.1 to 0.3"
            board = _nearest_board(sentence, m.start(), boards)
            metric = _metric(sentence, m.start())
            if board is None and metric is None:
                continue  # "from 0.82 to 0.86" of what?
            scale = 100.0 if a[1] else 1.0
            gains.append(ReportedGain(board, metric, round((b[0] - a[0]) / scale, 6), "absolute",
                                      m.group(0).strip()))
            taken.append((m.start(), m.end()))
        for m in _DELTA.finditer(sentence):
            if any(s <= m.start() < e for s, e in taken):
                continue
            before, after = _clause(sentence, m.start(), m.end())
            if _NOT_A_GAIN_AFTER.match(after):
                continue
            sign = m.group("sign")
            direction = 0
            if sign == "+" and _PLUS_CONTEXT.match(after):
                direction = 1
            elif sign in ("-", "−") and (not before or before[-1].isspace() or before[-1] in "(["):
                direction = -1
            else:
                for rx, text_part in ((_BY_BEFORE, before), (_OF_BEFORE, before), (_VERB_BEFORE, before),
                                     (_AFTER, after)):
                    found = rx.search(text_part) if rx is not _AFTER else rx.match(text_part)
                    if found:
                        direction = 1 if found.group("up") else -1
                        break
            if direction == 0:
                continue
            if any(_COST.search(part) and not _METRIC.search(part) for part in (before[-50:], after[:30])):
                continue  # "reduces memory usage by 30%", "a 12% drop in latency", "reduces error by 20%"
            metric = _metric(sentence, m.start())
            board = _nearest_board(sentence, m.start(), boards)
            value = float(m.group("num")) / 100.0
            if sign in ("-", "−"):
                direction = -1
            unit_raw = m.group("unit").lower()
            unit = "%" if unit_raw in ("%", "percent") else "points"
            gains.append(ReportedGain(board, metric, round(direction * value, 6), unit,
                                      _fragment(sentence, m.start(), m.end())))
    return gains


def impact_bucket(gain: float | None) -> str | None:
    """Seed 002 §3.2: Low (< 1%), Medium (1–3%), High (> 3%); None when nothing was reported."""
    if gain is None:
        return None
    if gain < 0.01:
        return "Low"
    if gain <= 0.03:
        return "Medium"
    return "High"


# --------------------------------------------------------------------------- extraction


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
        """SPEC: impact × 1/effort (an unknown impact counts as Low)."""
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


__all__ = [
    "CATEGORIES", "EFFORTS", "RECALL_KNOBS", "Extracted", "ReportedGain", "Technique",
    "extract", "extract_techniques", "impact_bucket", "leaderboards_of", "load_catalog", "mention_regex",
    "parse_gains", "patch_problems", "split_sentences",
]
