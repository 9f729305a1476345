"""Technique extraction: the catalog, reported gains, impact buckets and priorities."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import REPO

from autobench.errors import StateError
from autobench.research.gains import impact_bucket, mention_regex, parse_gains
from autobench.research.technique_catalog import RECALL_KNOBS, Technique, load_catalog
from autobench.research.techniques import extract, extract_techniques, leaderboards_of

LB = [("MemoryBench", ["Memory-Bench", "MemBench"]), ("LongContextEval", [])]

ROTARY_COSINE = (
    "Positional Tricks for Associative Recall. "
    "We revisit small transformers for key-value recall. "
    "Rotary position embeddings and a cosine learning-rate schedule with linear warmup improve "
    "accuracy on MemoryBench by 4.2%."
)

# the research log's example paper, written as an abstract
HYPERMEMORY = (
    "HyperMemory: Hierarchical State Spaces for Long-Context Recall. "
    "We introduce hierarchical state compression, which summarises the sequence into a three-level "
    "memory and improves MemoryBench accuracy by 4.2% over the prior state of the art. "
    "Training uses a cosine decay schedule with warmup, which adds 0.3 points. "
    "Synthetic data augmentation for long-range dependencies contributes a further 1.8% gain."
)

RADIOACTIVE = (
    "On the decay of radioactive isotopes. We report half-lives measured between 2019 and 2023 "
    "with a 95% confidence interval of ±0.4%, following Smith et al. (2019) [12]. "
    "The detector's dead time decays exponentially; 85% of the events come from 2021."
)

CITATIONS = (
    "Scaling Language Models. Building on prior work (Brown et al., 2020; Touvron et al., 2023), "
    "we train 7B and 13B parameter models on 2T tokens in 2024. "
    "Loss falls from 2.31 to 2.05 as models grow from 7B to 13B parameters. "
    "Results hold at the 95% confidence level over 3 seeds, trained on 10% of the data."
)


@pytest.fixture(scope="module")
def catalog() -> list[Technique]:
    return load_catalog()


def names(found) -> set[str]:
    return {e["name"] if isinstance(e, dict) else e.technique.name for e in found}


# --------------------------------------------------------------------------- the catalog


def test_shipped_catalog_is_valid_and_covers_the_brief(catalog):
    by_name = {t.name: t for t in catalog}
    assert 18 <= len(catalog) <= 30
    assert by_name["wider model"].config_patch == {"width": 64}
    assert by_name["deeper model"].config_patch == {"depth": 3}
    assert by_name["more attention heads"].config_patch == {"heads": 8}
    assert by_name["rotary position embeddings"].config_patch == {"positional_encoding": "rotary"}
    assert by_name["longer training"].config_patch == {"steps": 1400}
    assert by_name["larger batch"].config_patch == {"batch_size": 128}
    assert by_name["cosine lr schedule with warmup"].config_patch["schedule"] == "cosine"
    for name in ("synthetic data augmentation", "mixture of experts", "hierarchical state compression",
                 "retrieval augmentation", "quantization", "knowledge distillation"):
        assert by_name[name].config_patch == {} and by_name[name].applies is False, name
    assert by_name["quantization"].category == "inference"
    assert all(t.applies for t in catalog if t.config_patch)
    for t in catalog:
        assert t.category in ("architecture", "training", "data", "inference")
        assert t.effort in ("Low", "Medium", "High")
        for p in t.patterns:
            re.compile(p)


def test_every_patch_is_a_valid_config_of_the_reference_solution(catalog):
    # recall.py imports torch; read DEFAULTS from its source instead
    tree = ast.parse((REPO / "include/autobench/workloads/recall.py").read_text())
    defaults = next(ast.literal_eval(node.value) for node in tree.body
                    if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "DEFAULTS")
    assert set(RECALL_KNOBS) <= set(defaults)
    production = {"n_pairs": 48, "min_pairs": 8, "n_queries": 8, "width": 32, "heads": 4}
    for t in catalog:
        cfg = {**defaults, **production, **t.config_patch}
        assert cfg["width"] % cfg["heads"] == 0, t.name
        assert cfg["n_queries"] <= cfg["min_pairs"] <= cfg["n_pairs"], t.name


def test_user_catalog_overrides_by_name_adds_and_disables(tmp_path):
    (tmp_path / "techniques.yaml").write_text(
        "techniques:\n"
        "  - name: Dropout\n"                      # case-insensitive: replaces the shipped one's patch
        "    config_patch: {dropout: 0.2}\n"
        "  - name: quantization\n"
        "    enabled: false\n"
        "  - name: gated attention\n"
        "    category: architecture\n"
        "    effort: Medium\n"
        "    patterns: ['\\bgated attention\\b']\n"
        "    config_patch: {}\n"
        "    description: a gate on each head\n")
    cat = {t.name.lower(): t for t in load_catalog(tmp_path)}
    assert cat["dropout"].config_patch == {"dropout": 0.2}
    assert cat["dropout"].effort == "Low"  # the rest of the shipped entry stays
    assert "quantization" not in cat
    assert cat["gated attention"].applies is False
    found = extract_techniques("We add gated attention to every block.", list(cat.values()))
    assert names(found) == {"gated attention"}


def test_missing_user_catalog_is_the_shipped_one(tmp_path):
    assert [t.name for t in load_catalog(tmp_path)] == [t.name for t in load_catalog()]


@pytest.mark.parametrize("entry, field, message", [
    ("  - name: dropout\n    effort: Tiny\n", "techniques[0] (dropout).effort", "Low"),
    ("  - name: dropout\n    categroy: training\n", "techniques[0] (dropout).categroy", "unknown key"),
    ("  - name: x\n    category: training\n    effort: Low\n    patterns: ['(unclosed']\n",
     "techniques[0] (x).patterns", "not a valid regular expression"),
    ("  - name: wider model\n    config_patch: {widht: 64}\n", "techniques[0] (wider model).config_patch.widht",
     "unknown knob"),
    ("  - name: rotary position embeddings\n    config_patch: {positional_encoding: alibi}\n",
     "techniques[0] (rotary position embeddings).config_patch.positional_encoding", "none, learned"),
    ("  - name: brand new\n    category: training\n", "techniques[0] (brand new).effort", "required"),
    ("  - name: a\n    category: data\n    effort: Low\n    patterns: [a]\n"
     "  - name: A\n    category: data\n    effort: Low\n    patterns: [a]\n", "techniques[1] (A).name", "twice"),
])
def test_bad_user_catalog_names_file_entry_and_field(tmp_path, entry, field, message):
    (tmp_path / "techniques.yaml").write_text("techniques:\n" + entry)
    with pytest.raises(StateError) as info:
        load_catalog(tmp_path)
    text = str(info.value)
    assert text.startswith("techniques.yaml: "), text
    assert field in text and message in text, text


def test_user_catalog_that_is_not_a_mapping_or_not_yaml(tmp_path):
    (tmp_path / "techniques.yaml").write_text("- just a list\n")
    with pytest.raises(StateError, match="techniques.yaml: the top level must be a mapping"):
        load_catalog(tmp_path)
    (tmp_path / "techniques.yaml").write_text("techniques: [\n")
    with pytest.raises(StateError, match="techniques.yaml: not valid YAML"):
        load_catalog(tmp_path)


# --------------------------------------------------------------------------- reported gains


@pytest.mark.parametrize("text, board, gain, unit", [
    ("Our model reaches +4.2% on MemoryBench.", "MemoryBench", 0.042, "%"),
    ("It improves accuracy by 3.1 points.", None, 0.031, "points"),
    ("Accuracy rises from 0.82 to 0.86 on MemoryBench.", "MemoryBench", 0.04, "absolute"),
    ("F1 on LongContextEval goes from 82.1 to 86.3.", "LongContextEval", 0.042, "absolute"),
    ("Accuracy improves from 82.1% to 86.3%.", None, 0.042, "absolute"),
    ("We observe a 2.5% absolute improvement.", None, 0.025, "%"),
    ("It outperforms the prior SOTA by 1.3 points on Memory-Bench.", "MemoryBench", 0.013, "points"),
    ("Without the gate, accuracy drops by 0.5%.", None, -0.005, "%"),
    ("On membench we gain 2.0 percentage points over the baseline.", "MemoryBench", 0.02, "points"),
    ("This yields an improvement of 1.5% on MemoryBench.", "MemoryBench", 0.015, "%"),
    ("We gain +4.2% on MemoryBench while using 30% less memory.", "MemoryBench", 0.042, "%"),
    ("Top-1 accuracy is 3.0 points higher than the baseline (86.3% vs 83.3%).", None, 0.03, "points"),
])
def test_parse_gains(text, board, gain, unit):
    gains = parse_gains(text, LB)
    assert len(gains) == 1, gains
    g = gains[0]
    assert g.leaderboard == board
    assert g.gain == pytest.approx(gain)
    assert g.unit == unit
    assert g.text and g.text in " ".join(text.split())


@pytest.mark.parametrize("text", [
    RADIOACTIVE,
    CITATIONS,
    "We report a 95% confidence interval for every result.",
    "Models with 7B parameters were trained from 2019 to 2021.",
    "We increase dropout from 0.1 to 0.3 and the learning rate from 1e-3 to 3e-3.",
    "Our method reduces memory usage by 30% and latency by 12%.",
    "Only 20% of the tokens are kept after pruning.",
    "It reduces the error on MemoryBench by 20% and cuts the KV-cache by 4x.",
    "A 12% drop in latency at 86.3% accuracy.",
    "Accuracy reaches 86.3% on MemoryBench, the best reported in 2025.",
    "See Table 3 and Section 4.2 for details [14, 15].",
])
def test_no_false_gains(text):
    assert parse_gains(text, LB) == []


def test_impact_buckets():
    assert impact_bucket(None) is None
    assert impact_bucket(-0.02) == "Low"
    assert impact_bucket(0.0099) == "Low"
    assert impact_bucket(0.01) == "Medium"
    assert impact_bucket(0.03) == "Medium"
    assert impact_bucket(0.031) == "High"


def test_mention_regex_ignores_case_hyphens_and_spaces():
    rx = mention_regex(["MemoryBench", "MemBench"])
    for text in ("on MemoryBench", "on memory-bench", "on Memory Bench,", "(MEMBENCH)", "memory_bench"):
        assert rx.search(text), text
    for text in ("memory benchmarks", "MemoryBenchmark", "a memory bank"):
        assert not rx.search(text), text


# --------------------------------------------------------------------------- extraction


def test_extract_the_briefs_abstract(catalog):
    result = extract(ROTARY_COSINE, catalog, LB)
    assert set(result) == {"techniques", "reported_gains"}
    by_name = {t["name"]: t for t in result["techniques"]}
    # cosine-with-warmup includes linear warmup: the latter is not reported separately
    assert set(by_name) == {"rotary position embeddings", "cosine lr schedule with warmup"}
    for t in by_name.values():
        assert set(t) == {"name", "category", "effort", "impact", "config_patch", "evidence"}
        assert t["impact"] == "High"
        assert "MemoryBench by 4.2%" in t["evidence"]
    assert by_name["rotary position embeddings"]["config_patch"] == {"positional_encoding": "rotary"}
    [gain] = result["reported_gains"]
    assert gain["leaderboard"] == "MemoryBench" and gain["gain"] == pytest.approx(0.042) and gain["unit"] == "%"
    assert gain["metric"] == "accuracy"


def test_extract_the_hypermemory_paper(catalog):
    found = extract_techniques(HYPERMEMORY, catalog, LB)
    by_name = {e.technique.name: e for e in found}
    assert set(by_name) == {"hierarchical state compression", "cosine lr schedule with warmup",
                            "synthetic data augmentation"}
    # effort/impact: compression Medium/High, cosine Low/Low, synthetic data High/Medium
    assert (by_name["hierarchical state compression"].technique.effort,
            by_name["hierarchical state compression"].impact) == ("Medium", "High")
    assert (by_name["cosine lr schedule with warmup"].technique.effort,
            by_name["cosine lr schedule with warmup"].impact) == ("Low", "Low")
    assert (by_name["synthetic data augmentation"].technique.effort,
            by_name["synthetic data augmentation"].impact) == ("High", "Medium")
    # priority = impact × 1/effort: 3/2, 1/1, 2/4
    assert [e.technique.name for e in found] == ["hierarchical state compression", "cosine lr schedule with warmup",
                                                 "synthetic data augmentation"]
    assert [e.priority for e in found] == [1.5, 1.0, 0.5]
    assert not by_name["hierarchical state compression"].technique.applies


def test_no_gain_means_unknown_impact_and_ties_sort_by_name(catalog):
    text = "We train a deeper network with more attention heads and weight decay."
    found = extract(text, catalog, LB)
    assert [t["name"] for t in found["techniques"]] == ["deeper model", "more attention heads", "weight decay"]
    assert all(t["impact"] is None for t in found["techniques"])
    assert found["reported_gains"] == []


def test_paper_gain_is_preferred_on_our_leaderboards(catalog):
    text = ("We apply dropout to the attention weights. "
            "This improves MemoryBench accuracy by 1.2% and ImageNet accuracy by 8%.")
    [e] = extract_techniques(text, catalog, LB)
    assert e.technique.name == "dropout" and e.impact == "Medium"


def test_ablation_sentence_credits_the_technique(catalog):
    text = "Without curriculum learning, accuracy drops by 2.0% on MemoryBench."
    [e] = extract_techniques(text, catalog, LB)
    assert e.technique.name == "curriculum learning" and e.impact == "Medium"


@pytest.mark.parametrize("text", [RADIOACTIVE, CITATIONS,
                                  "Exponential decay of the signal; learning happens in a learned way.",
                                  "We study student dropout in universities and a rope bridge.",
                                  "The cosine similarity between embeddings is high."])
def test_no_false_techniques(catalog, text):
    assert extract(text, catalog, LB) == {"techniques": [], "reported_gains": []}


@pytest.mark.parametrize("text, expected", [
    ("We replace learned positions with RoPE.", "rotary position embeddings"),
    ("A NoPE transformer generalises better.", "no positional encoding"),
    ("We use AdamW with decoupled weight decay.", "weight decay"),
    ("Sinusoidal positional encodings are used throughout.", "sinusoidal positional encoding"),
    ("A sparse mixture-of-experts layer replaces the MLP.", "mixture of experts"),
    ("We use retrieval-augmented generation.", "retrieval augmentation"),
    ("Post-training quantization to 4 bits keeps accuracy.", "quantization"),
    ("Knowledge distillation from a larger teacher helps.", "knowledge distillation"),
    ("We double the model width.", "wider model"),
    ("Training longer, for 2x more steps, helps.", "longer training"),
    ("Larger batch sizes stabilise training.", "larger batch"),
    ("We find that a higher learning rate escapes the plateau.", "higher learning rate"),
    ("A lower learning rate avoids divergence.", "lower learning rate"),
])
def test_single_technique_phrasings(catalog, text, expected):
    assert names(extract_techniques(text, catalog, LB)) == {expected}


def test_leaderboards_of_registry_and_dict():
    import yaml

    from autobench.schemas import Registry

    data = yaml.safe_load((REPO / "include/autobench/examples/recall/competitive_registry.yaml").read_text())
    assert leaderboards_of(Registry.model_validate(data)) == [("MemoryBench", ["Memory-Bench", "MemBench"]),
                                                              ("LongContextEval", [])]
    assert leaderboards_of(data) == leaderboards_of(Registry.model_validate(data))


# --------------------------------------------------------------------------- the optional LLM extractor


class _Stub:
    """A local OpenAI-compatible endpoint: answers each POST with the next (status, body)."""

    def __init__(self, replies):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.replies = list(replies)
        self.requests: list[tuple[str, dict, dict]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                stub.requests.append((self.path, dict(self.headers), json.loads(self.rfile.read(length))))
                status, body = stub.replies.pop(0)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _chat(content) -> dict:
    import json

    text = content if isinstance(content, str) else json.dumps(content)
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def test_llm_extractor_reconciles_with_the_catalog(catalog):
    from autobench.research.llm_extractor import LLMExtractor

    answer = {"techniques": [
        {"name": "Rotary Position Embeddings", "category": "training", "effort": "High", "impact": "High",
         "config_patch": {"positional_encoding": "alibi"}, "evidence": "Rotary  position embeddings help."},
        {"name": "gated memory", "category": "architecture", "effort": "Medium", "impact": "Medium",
         "config_patch": {"gate": True}, "evidence": "A gated memory adds 2%."},
        {"name": "smaller width", "category": "architecture", "effort": "Low", "impact": None,
         "config_patch": {"width": 16}, "evidence": "Narrower is fine.", "confidence": 0.9},
    ]}
    with _Stub([(200, _chat(answer))]) as stub:
        out = LLMExtractor(stub.url + "/", "sk-test", "tiny").extract(ROTARY_COSINE, catalog)
    path, headers, body = stub.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "tiny" and body["response_format"] == {"type": "json_object"}
    assert "rotary position embeddings" in body["messages"][0]["content"]
    assert body["messages"][1]["content"] == ROTARY_COSINE
    by_name = {t["name"]: t for t in out}
    # a catalog name: the catalog's category, effort and patch; the model's impact and evidence
    rot = by_name["rotary position embeddings"]
    assert (rot["category"], rot["effort"], rot["impact"]) == ("architecture", "Low", "High")
    assert rot["config_patch"] == {"positional_encoding": "rotary"} and rot["applies"] is True
    assert rot["evidence"] == "Rotary position embeddings help."
    # unknown names: kept; applies only with a valid patch of known knobs
    assert by_name["gated memory"]["applies"] is False and by_name["gated memory"]["config_patch"] == {}
    assert "gate: unknown knob" in by_name["gated memory"]["note"]
    assert by_name["smaller width"]["applies"] is True and by_name["smaller width"]["config_patch"] == {"width": 16}
    # 3/1, then 2/2 = 1/1 by name
    assert [t["name"] for t in out] == ["rotary position embeddings", "gated memory", "smaller width"]


@pytest.mark.parametrize("status, body, message", [
    (500, {"error": "boom"}, "answered HTTP 500"),
    (200, b"<html>not json</html>", "not JSON"),
    (200, {"object": "chat.completion"}, "no choices[0].message.content"),
    (200, _chat("Sure! Here are the techniques: rotary."), "the model's answer is not JSON"),
    (200, _chat({"techniques": [{"name": "x", "category": "magic", "effort": "Low"}]}),
     "invalid: techniques.0.category"),
    (200, _chat({"results": []}), "invalid: techniques"),
])
def test_llm_extractor_bad_replies_are_clear_errors(catalog, status, body, message):
    from autobench.errors import AutobenchError
    from autobench.research.llm_extractor import LLMExtractor

    with _Stub([(status, body)]) as stub:
        with pytest.raises(AutobenchError, match=re.escape(message)) as info:
            LLMExtractor(stub.url, "sk-secret-key-000", "tiny").extract("text", catalog)
    assert "sk-secret" not in str(info.value)


def test_llm_extractor_unreachable_and_fenced_json(catalog):
    import socket

    from autobench.errors import AutobenchError
    from autobench.research.llm_extractor import LLMExtractor

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AutobenchError, match="failed: ConnectionError"):
        LLMExtractor(f"http://127.0.0.1:{port}", None, "tiny", timeout=2).extract("text", catalog)
    fenced = '```json\n{"techniques": [{"name": "dropout", "category": "training", "effort": "Low"}]}\n```'
    with _Stub([(200, _chat(fenced))]) as stub:
        [t] = LLMExtractor(stub.url, None, "tiny").extract("text", catalog)
    assert "Authorization" not in stub.requests[0][1]
    assert t["name"] == "dropout" and t["config_patch"] == {"dropout": 0.1} and t["impact"] is None
    with pytest.raises(AutobenchError, match="base_url"):
        LLMExtractor("localhost:8000", None, "tiny")
