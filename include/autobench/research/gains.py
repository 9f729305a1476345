"""Reported gains: what a paper says it improved, and by how much, read from its text.

:func:`parse_gains` reads reported gains ("+4.2% on MemoryBench", "by 3.1 points", "from 0.82
to 0.86") into fractions of the leaderboard's scale. It is deliberately conservative: a number
needs an improvement cue next to it (a sign, "by", "improvement", "gain", "drops"...) and nothing
that makes it a cost, a share of data or a confidence level; years, citations and parameter
counts ("7B") never qualify. :func:`impact_bucket` turns a gain into Low, Medium or High.

Also the sentence splitting and name matching the relevance screen shares
(:func:`split_sentences`, :func:`mention_regex`). Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


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
_UP = (r"improv\w*|boost\w*|increas\w*|rais\w*|lift\w*|outperform\w*|surpass\w*|exceed\w*|beat\w*|gain\w*|"
       r"better|advanc\w*|push\w*|enhanc\w*")
_DOWN = (r"drop\w*|decreas\w*|reduc\w*|degrad\w*|fall\w*|fell|lower\w*|hurt\w*|declin\w*|underperform\w*|"
         r"los[est]\w*|worsen\w*")
_AMOUNT = (r"(?:\s+(?:up to|about|around|roughly|nearly|almost|over|more than|an average of|on average|"
           r"a further|an additional|a|an))*")
# "<verb> ... by" immediately before the number ("improves accuracy on X by", "drops by")
_BY_BEFORE = re.compile(r"(?:(?P<up>" + _UP + r")|(?P<down>" + _DOWN + r"))\b[^.;:]{0,80}?\bby" + _AMOUNT + r"\s*$",
                        re.IGNORECASE)
# "adds 0.3 points", "gains 2%", "loses 1.1 points": a verb right before the number
_VERB_BEFORE = re.compile(r"\b(?:(?P<up>add(?:s|ed|ing)?|contribut\w*|yield\w*|bring\w*|brought|giv(?:es|ing)|gave|"
                          r"deliver\w*|gain(?:s|ed|ing)?|improv\w*|scor\w* (?:an? )?(?:additional|extra))|"
                          r"(?P<down>los(?:es|t|ing)|cost\w*))"
                          + _AMOUNT + r"\s*$", re.IGNORECASE)
# "a gain of", "an improvement of", "a drop of" immediately before the number
_OF_BEFORE = re.compile(r"\b(?:(?P<up>improvement|gain|increase|boost|lift|margin)|"
                        r"(?P<down>drop|decrease|reduction|degradation|decline|loss))s?"
                        r"\s+of" + _AMOUNT + r"\s*$", re.IGNORECASE)
# a noun or comparative right after the number ("4.2% improvement", "3 points higher")
_AFTER = re.compile(r"^\s*(?:absolute\s+|relative\s+|average\s+|mean\s+)*"
                    r"(?:(?P<up>improvement|gain|increase|boost|lift|higher|better|more accurate|above|ahead|over|"
                    r"advantage)"
                    r"|(?P<down>drop|decrease|reduction|degradation|decline|lower|worse|below|loss|behind))\b",
                    re.IGNORECASE)
_PLUS_CONTEXT = re.compile(r"^\s*(?:on|in|over|at|vs\.?|versus|relative|absolute|improvement|gain|accuracy|\(|,|\)|$)",
                           re.IGNORECASE)
# what makes a percentage something other than a score difference
_NOT_A_GAIN_AFTER = re.compile(
    r"^\s*(?:confidence|ci\b|credible|significance|quantile|percentile|sparsity|of\s+(?:the\s+)?(?:\w+\s+)?"
    r"(?:data|dataset|parameters|params|tokens|samples|examples|training|cases|time|compute|budget|layers|heads|"
    r"weights|memory|vocabulary))",
    re.IGNORECASE)
_COST = re.compile(r"\b(?:memory (?:usage|footprint|consumption|cost)|latency|flops|compute|parameters|params|"
                   r"training time|inference time|wall[- ]clock|speed|throughput|cost|model size|energy|perplexity|"
                   r"loss|error|runtime|kv[- ]cache)\b",
                   re.IGNORECASE)
_METRIC = re.compile(r"\b(?P<m>accuracy|acc\.?|exact[- ]match|em\b|f1(?:[- ]score)?|recall@\d+|precision@\d+|"
                     r"hit(?:s)?@\d+|mrr|ndcg(?:@\d+)?|bleu|rouge(?:-\w+)?|success rate|win rate|pass@\d+|auc|"
                     r"scores?)(?![\w@])", re.IGNORECASE)
_HYPER_BEFORE = re.compile(r"\b(?:dropout|learning[- ]rate|lr|weight[- ]decay|width|depth|heads|layers|steps|"
                           r"batch(?:[- ]size)?|warm[- ]?up|temperature|ratio|rate|size|length|window|context|tokens|"
                           r"parameters|dimension)\b[^.;]{0,20}$",
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
    """Low (< 1%), Medium (1–3%), High (> 3%); None when nothing was reported."""
    if gain is None:
        return None
    if gain < 0.01:
        return "Low"
    if gain <= 0.03:
        return "Medium"
    return "High"


__all__ = ["Leaderboards", "ReportedGain", "impact_bucket", "mention_regex", "parse_gains", "split_sentences"]
