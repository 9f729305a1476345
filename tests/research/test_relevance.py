"""The relevance screen: leaderboards by name or alias, SOTA in our domain, BM25 scores."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from conftest import REPO

from autobench.research.relevance import Query, bm25, screen, tokenize
from autobench.schemas import Registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    data = yaml.safe_load((REPO / "include/autobench/examples/recall/competitive_registry.yaml").read_text())
    return Registry.model_validate(data)


PAPERS = [
    {"id": "2602.00001", "title": "Rotary embeddings for key-value recall",
     "summary": "We evaluate small transformers on MemoryBench and improve accuracy by 4.2%."},
    {"id": "2602.00002", "title": "Sparse attention at scale",
     "summary": "We propose a sparse attention kernel. Results on the Memory-Bench suite are in the appendix."},
    {"id": "2602.00003", "title": "Efficient inference",
     "summary": "A kernel for fast decoding.", "comment": "Code and membench results at github.com/x/y"},
    {"id": "2602.00004", "title": "HyperMemory: Hierarchical State Spaces for Long-Context Recall",
     "summary": "We propose hierarchical state compression for long-context memory in sequence models. "
                "Our model achieves state-of-the-art associative recall accuracy, outperforming prior "
                "memory-augmented transformers."},
    {"id": "2602.00005", "title": "A convolutional backbone for image classification",
     "summary": "We propose a backbone that achieves state-of-the-art top-1 accuracy on ImageNet with "
                "fewer FLOPs than vision transformers."},
    {"id": "2602.00006", "title": "Radioactive decay chains",
     "summary": "We measure the decay of radioactive isotopes since 2019 with a new detector and report "
                "a 95% confidence interval."},
    {"id": "2602.00007", "title": "Protein folding with diffusion",
     "summary": "A diffusion model for protein structure prediction sets a new record on CASP15."},
    {"id": "2602.00008", "title": "How associative memory emerges in attention",
     "summary": "We analyse how key-value associative memory and recall emerge in attention layers "
                "during training on long-context tasks."},
]


def by_id(results):
    return {r.id: r for r in results}


def test_screen_the_written_batch(registry):
    results = screen(PAPERS, registry, 0.1)
    assert [r.index for r in results] == list(range(len(PAPERS)))
    r = by_id(results)
    # by name, by alias (hyphenated), by alias in the arXiv comment (lowercase)
    for pid in ("2602.00001", "2602.00002", "2602.00003"):
        assert r[pid].leaderboards == ["MemoryBench"] and r[pid].relevant, r[pid]
        assert r[pid].reason.startswith("benchmarks on MemoryBench")
    # a paper naming one of our leaderboards is relevant whatever its score
    assert r["2602.00003"].score < 0.1
    # SOTA in our domain
    assert r["2602.00004"].claims_sota and r["2602.00004"].relevant and not r["2602.00004"].leaderboards
    assert r["2602.00004"].reason == f"claims SOTA in memory (score {r['2602.00004'].score:.2f})"
    # SOTA outside the domain, and papers off topic: below the threshold
    for pid in ("2602.00005", "2602.00006", "2602.00007"):
        assert not r[pid].relevant and not r[pid].claims_sota, r[pid]
        assert r[pid].score < 0.1
        assert r[pid].reason == f"score {r[pid].score:.2f} < threshold 0.1"
    # on topic but neither a leaderboard nor a SOTA claim: above the threshold, not relevant by default
    on_topic = r["2602.00008"]
    assert on_topic.score >= 0.1 and not on_topic.relevant
    assert "claims no SOTA in memory" in on_topic.reason
    assert by_id(screen(PAPERS, registry, 0.1, require_sota=False))["2602.00008"].relevant
    # scores are comparable: the domain papers rank above the off-topic ones
    assert min(r[p].score for p in ("2602.00004", "2602.00008")) > max(
        r[p].score for p in ("2602.00005", "2602.00006", "2602.00007"))
    assert all(0.0 <= x.score <= 1.0 for x in results)


def test_threshold_moves_the_line(registry):
    high = by_id(screen(PAPERS, registry, 0.95))
    assert not high["2602.00004"].relevant and "< threshold 0.95" in high["2602.00004"].reason
    assert high["2602.00001"].relevant  # leaderboards are named: still relevant
    low = by_id(screen(PAPERS, registry, 0.0))
    assert low["2602.00005"].claims_sota is False  # ImageNet's SOTA is not in our domain


def test_papers_as_objects_and_dict_registry(registry):
    papers = [SimpleNamespace(entry_id="http://arxiv.org/abs/2602.00009v1", title="MemBench results",
                              summary="Associative recall.", comment=None, journal_ref=None)]
    [r] = screen(papers, registry.model_dump(), 0.1)
    assert r.id.endswith("2602.00009v1") and r.leaderboards == ["MemoryBench"]
    assert r.as_dict()["relevant"] is True


def test_query_from_registry(registry):
    q = Query.from_registry(registry)
    for term in ("memory", "associative", "recall", "memorybench", "membench", "longcontexteval", "long", "context"):
        assert term in q.terms, term
    assert "accuracy" in q.terms and "accuracy" not in q.domain_terms
    assert "memory" in q.domain_terms


def test_bm25_basics():
    docs = [tokenize("memory memory recall"), tokenize("vision images"), tokenize("memory")]
    s = bm25(docs, ["memory", "recall"])
    assert s.shape == (3,)
    assert s[0] > s[2] > s[1] == 0.0
    assert bm25([], ["memory"]).shape == (0,)
    assert np.all(bm25(docs, []) == 0)


def test_empty_batch(registry):
    assert screen([], registry, 0.1) == []


def test_two_thousand_papers(registry):
    rng = random.Random(7)
    words = ("memory recall attention image protein model training accuracy loss long context key value "
             "retrieval graph vision speech robot policy reward the of and we a in").split()
    papers = [{"id": str(i), "title": " ".join(rng.choices(words, k=8)),
               "summary": " ".join(rng.choices(words, k=150))
               + (" We report results on MemoryBench." if i % 100 == 0 else "")} for i in range(2000)]
    results = screen(papers, registry, 0.1)
    assert len(results) == 2000
    assert {r.id for r in results if r.leaderboards} == {str(i) for i in range(0, 2000, 100)}
