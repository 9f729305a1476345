"""The relevance screen: does a paper benchmark on our leaderboards or report SOTA in
our domain?

For a batch of papers (title, summary, and the arXiv ``comment`` / ``journal_ref`` when present)
and the competitive registry, :func:`screen` returns one :class:`Relevance` per paper:

* ``leaderboards``: our leaderboards the paper names, by name or alias, ignoring case, hyphens,
  underscores and spaces ("Memory-Bench", "membench"). Naming one makes a paper relevant,
  whatever its score.
* ``score``: Okapi BM25 (k1 = 1.5, b = 0.75, computed with numpy over the batch) of the paper
  against a query made of the registry's domain, its description and each leaderboard's name
  (also split at case changes: "LongContextEval" → long, context, eval), aliases and
  description. Two documented changes make a fixed ``relevance_threshold`` meaningful:

  - *background smoothing*: document frequencies are counted as if the batch also held
    :data:`BACKGROUND_DOCS` papers that contain no query term, so that a small batch of on-topic
    papers (all saying "memory") does not make the domain's own words worthless;
  - *coverage normalisation*: the raw score is divided by the sum of the query terms' idf, which
    is what a paper of average length mentioning every query term once would score, and clipped
    to [0, 1]. So the score reads as "the idf-weighted share of the query the paper covers"
    (repeated terms count a little more, saturating as BM25 does): 0.1, the default threshold,
    is a paper that covers about a tenth of what the registry says the domain is about.

* ``claims_sota``: a sentence claiming state of the art ("state-of-the-art", "SOTA", "new
  record", "outperforms all prior methods"...) that also uses a word of our domain (a query term
  that is not generic ML vocabulary), in a paper whose score reaches the threshold.
* ``relevant``: names one of our leaderboards, or claims SOTA in our domain. With
  ``require_sota=False`` a score at or above the threshold alone also suffices.
* ``reason``: one line for the research log ("benchmarks on MemoryBench (score 0.42)", "claims
  SOTA in memory (score 0.31)", "score 0.04 < threshold 0.1").

2,000 papers take a few hundred milliseconds: tokenising is one regex per paper and scoring is a
dense (papers × query terms) numpy computation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from autobench.research.gains import mention_regex, split_sentences

K1 = 1.5
B = 0.75
BACKGROUND_DOCS = 50

_TOKEN = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
STOPWORDS = frozenset(
    "a an and are as at be been but by can do does for from has have how in into is it its of on "
    "or our over such than that the their them then there these they this those to under up via "
    "was we were what when where which while who will with within without you your also both each "
    "more most other some not only same so very".split())
# Query terms that say nothing about a domain: they count for the BM25 score but not as the
# "domain word" a SOTA claim must use.
GENERIC = frozenset(
    "model task score accuracy f1 result performance method benchmark bench eval evaluation data "
    "learning neural network new approach system sequence language large deep transformer "
    "metric test dataset training".split())
_SOTA = re.compile(
    r"\bstate[- ]of[- ]the[- ]art\b|\bsota\b|\bnew (?:world |state of the art )?records?\b|"
    r"\bnew best\b|\bbest[- ](?:reported|published|known) (?:results?|scores?|accuracy|performance)\b|"
    r"\b(?:outperform|surpass|beat)\w* (?:all |the )?(?:prior|previous|existing|competing|published|current) "
    r"(?:methods|models|approaches|work|systems|baselines|results|state)\b|"
    r"\btop (?:of|the) (?:the )?leaderboard\b|\branks? first\b",
    re.IGNORECASE)


def _stem(word: str) -> str:
    """Plural folding, enough for BM25 over abstracts: models → model, memories → memory."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def _query_tokens(text: str) -> list[str]:
    """Tokens of query text, names also split at case changes ("LongContextEval")."""
    tokens = tokenize(text)
    for word in re.findall(r"[A-Za-z0-9]+", text):
        parts = [p for p in _CAMEL.findall(word) if len(p) >= 3 and p.isalpha()]
        if len(parts) > 1:
            tokens.extend(tokenize(" ".join(parts)))
    return tokens


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def paper_text(paper: Any) -> str:
    """Title, summary (or abstract), comment and journal_ref of a paper (dict or object)."""
    parts = [_get(paper, "title"), _get(paper, "summary") or _get(paper, "abstract"),
             _get(paper, "comment"), _get(paper, "journal_ref")]
    return "\n\n".join(str(p) for p in parts if p)


def _paper_id(paper: Any) -> str | None:
    for key in ("id", "arxiv_id", "entry_id", "paper_id", "doi"):
        value = _get(paper, key)
        if value:
            return str(value)
    return None


@dataclass
class Relevance:
    """The screen's verdict on one paper."""

    index: int
    id: str | None
    score: float
    leaderboards: list[str] = field(default_factory=list)
    claims_sota: bool = False
    relevant: bool = False
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Query:
    """The registry as a BM25 query: its terms and the subset that names the domain."""

    domain: str
    terms: list[str]
    domain_terms: frozenset[str]
    boards: list[tuple[str, re.Pattern[str]]]

    @classmethod
    def from_registry(cls, registry: Any) -> Query:
        domain = str(_get(registry, "domain") or "")
        pieces = [domain, str(_get(registry, "description") or "")]
        boards: list[tuple[str, re.Pattern[str]]] = []
        for lb in _get(registry, "target_leaderboards") or []:
            name = str(_get(lb, "name"))
            aliases = [str(a) for a in (_get(lb, "aliases") or [])]
            pieces += [name, *aliases, str(_get(lb, "description") or "")]
            rx = mention_regex([name, *aliases])
            if rx is not None:
                boards.append((name, rx))
        terms = list(dict.fromkeys(t for piece in pieces for t in _query_tokens(piece)))
        domain_terms = frozenset(t for t in terms if t not in GENERIC and not t.isdigit())
        return cls(domain, terms, domain_terms, boards)


def bm25(docs: Sequence[Sequence[str]], terms: Sequence[str], *, k1: float = K1, b: float = B,
         background: int = BACKGROUND_DOCS) -> Any:
    """Okapi BM25 of each tokenised doc against ``terms``, normalised to [0, 1] (see the module doc).

    Returns a numpy array of shape (len(docs),).
    """
    import numpy as np

    n = len(docs)
    if n == 0 or not terms:
        return np.zeros(n)
    index = {t: j for j, t in enumerate(terms)}
    tf = np.zeros((n, len(terms)))
    lengths = np.zeros(n)
    for i, doc in enumerate(docs):
        lengths[i] = len(doc)
        for term, count in Counter(t for t in doc if t in index).items():
            tf[i, index[term]] = count
    df = (tf > 0).sum(axis=0)
    total = n + background
    idf = np.log((total - df + 0.5) / (df + 0.5) + 1.0)
    avgdl = max(lengths.mean(), 1.0)
    norm = k1 * (1.0 - b + b * lengths / avgdl)
    raw = (idf * tf * (k1 + 1.0) / (tf + norm[:, None])).sum(axis=1)
    return np.clip(raw / idf.sum(), 0.0, 1.0)


def _sota_in_domain(text: str, domain_terms: frozenset[str]) -> bool:
    for _, sentence in split_sentences(text):
        if _SOTA.search(sentence) and domain_terms.intersection(tokenize(sentence)):
            return True
    return False


def screen(papers: Sequence[Any], registry: Any, threshold: float = 0.1, *,
           require_sota: bool = True, venues: Sequence[str | None] | None = None) -> list[Relevance]:
    """One :class:`Relevance` per paper, in the order given (see the module doc for the rules).

    ``papers`` are mappings or objects with ``title`` and ``summary`` (``abstract`` also works)
    and optionally ``comment``, ``journal_ref`` and an id (``id``, ``arxiv_id``, ``entry_id``...).
    ``registry`` is a :class:`~autobench.schemas.Registry` or its plain-dict form. ``venues``:
    per paper, the watched venue it appeared at (or None); an on-topic paper from a watched
    venue is relevant without a SOTA claim.
    """
    query = Query.from_registry(registry)
    texts = [paper_text(p) for p in papers]
    scores = bm25([tokenize(t) for t in texts], query.terms)
    out: list[Relevance] = []
    for i, (paper, text) in enumerate(zip(papers, texts, strict=True)):
        score = float(scores[i])
        named = [name for name, rx in query.boards if rx.search(text)]
        on_topic = score >= threshold
        sota = on_topic and _sota_in_domain(text, query.domain_terms)
        if named:
            relevant, reason = True, f"benchmarks on {', '.join(named)} (score {score:.2f})"
        elif sota:
            relevant, reason = True, f"claims SOTA in {query.domain} (score {score:.2f})"
        elif not on_topic:
            relevant, reason = False, f"score {score:.2f} < threshold {threshold:g}"
        elif venues is not None and venues[i]:
            relevant, reason = True, f"on topic at {venues[i]} (score {score:.2f} >= threshold {threshold:g})"
        elif not require_sota:
            relevant, reason = True, f"on topic (score {score:.2f} >= threshold {threshold:g})"
        else:
            relevant, reason = False, (f"score {score:.2f} >= threshold {threshold:g}, but names none of our "
                                       f"leaderboards and claims no SOTA in {query.domain}")
        out.append(Relevance(i, _paper_id(paper), score, named, sota, relevant, reason))
    return out


__all__ = ["B", "BACKGROUND_DOCS", "K1", "Query", "Relevance", "bm25", "paper_text", "screen", "tokenize"]
