"""Every field of every state file, wrong, gives its own clear `file: field: what` message."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from autobench import schemas
from autobench.schemas import FILES, StateError, parse

EXAMPLE = Path(schemas.__file__).parent / "examples" / "recall"
DELETE = object()


def example(name: str) -> dict[str, Any]:
    return YAML(typ="safe", pure=True).load((EXAMPLE / name).read_text())


def mutate(data: dict[str, Any], path: str | tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with one value set (or deleted); ``path`` is ``a.b[0].c`` or a key tuple."""
    data = copy.deepcopy(data)
    if isinstance(path, tuple):
        parts = list(path)
    else:
        parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]
    target = data
    for part in parts[:-1]:
        target = target[part]
    if value is DELETE:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return data


def expect_error(file: str, data: Any, field: str, fragment: str) -> None:
    with pytest.raises(StateError) as info:
        parse(FILES[file], data)
    lines = info.value.lines()
    prefix = f"{file}: {field}: " if field else f"{file}: "
    matching = [line for line in lines if line.startswith(prefix)]
    assert matching, f"no error for {field!r}; got {lines}"
    assert any(fragment in line for line in matching), f"{fragment!r} not in {matching}"
    assert str(info.value).startswith(prefix) or len(lines) > 1
    assert "\n" not in str(info.value)  # one line


REGISTRY_CASES = [
    ("domain", "", "domain", "at least 1 character"),
    ("domain", DELETE, "domain", "required but missing"),
    ("description", ["x"], "description", "valid string"),
    ("target_leaderboards", [], "target_leaderboards", "at least 1 item"),
    ("target_leaderboards[0].name", DELETE, "target_leaderboards[0].name", "required but missing"),
    ("target_leaderboards[0].url", "", "target_leaderboards[0].url", "at least 1 character"),
    ("target_leaderboards[0].scrape_method", "htlm_table", "target_leaderboards[0].scrape_method",
     "unknown scrape method 'htlm_table' (choose from html_table, api, rss, manual)"),
    ("target_leaderboards[0].primary_metric", 5, "target_leaderboards[0].primary_metric", "valid string"),
    ("target_leaderboards[0].higher_is_better", "maybe", "target_leaderboards[0].higher_is_better", "valid boolean"),
    ("target_leaderboards[0].scale", "ratio", "target_leaderboards[0].scale", "'fraction' or 'percent'"),
    ("target_leaderboards[0].description", 3, "target_leaderboards[0].description", "valid string"),
    ("target_leaderboards[0].aliases", "MemBench", "target_leaderboards[0].aliases", "valid list"),
    ("target_leaderboards[0].table", 0, "target_leaderboards[0].table", "greater than or equal to 1"),
    ("target_leaderboards[0].selector", 1, "target_leaderboards[0].selector", "valid string"),
    ("target_leaderboards[0].system_column", ["a"], "target_leaderboards[0].system_column", "valid string"),
    ("target_leaderboards[1].records", {"a": 1}, "target_leaderboards[1].records", "valid string"),
    ("target_leaderboards[0].pattern", "(", "target_leaderboards[0].pattern", "not a valid regular expression"),
    ("target_leaderboards[0].pattern", r"(\w+) (\d+)", "target_leaderboards[0].pattern", "named groups"),
    ("target_leaderboards[0].victory.rank", 0, "target_leaderboards[0].victory.rank", "greater than or equal to 1"),
    ("target_leaderboards[0].victory.margin", -0.1, "target_leaderboards[0].victory.margin",
     "greater than or equal to 0"),
    ("target_leaderboards[0].victory.sustained_cycles", "three", "target_leaderboards[0].victory.sustained_cycles",
     "valid integer"),
    ("target_leaderboards[0].victory.streak", 2, "target_leaderboards[0].victory.streak",
     "unknown key (a typo?) (allowed here: rank, margin, sustained_cycles)"),
    ("target_leaderboards[0].urll", "x", "target_leaderboards[0].urll",
     "unknown key (a typo?) (allowed here: name, url, scrape_method"),
    ("competitors[0].name", DELETE, "competitors[0].name", "required but missing"),
    ("competitors[0].latest_score", "high", "competitors[0].latest_score", "valid number"),
    ("competitors[0].source", "NoSuchBoard", "competitors[0].source", "unknown leaderboard 'NoSuchBoard'"),
    ("competitors[0].last_updated", "yesterday", "competitors[0].last_updated", "valid date"),
    ("competitors[0].aliases", 7, "competitors[0].aliases", "valid list"),
    ("competitors[0].url", 7, "competitors[0].url", "valid string"),
    ("our_solution", DELETE, "our_solution", "required but missing"),
    ("our_solution.name", "", "our_solution.name", "at least 1 character"),
    ("our_solution.solution", "recall.train", "our_solution.solution", "must be `module:function`"),
    ("our_solution.config", [1, 2], "our_solution.config", "valid dictionary"),
    ("our_solution.seeds", [], "our_solution.seeds", "at least 1 item"),
    ("our_solution.seeds", [1, 1], "our_solution.seeds", "distinct"),
    ("our_solution.seeds", [-1], "our_solution.seeds", "non-negative"),
    ("our_solution.metric_map", {"Nope": "accuracy"}, "our_solution.metric_map", "unknown leaderboard 'Nope'"),
    ("our_solution.current_scores.MemoryBench", "0.8x", "our_solution.current_scores.MemoryBench", "valid number"),
    ("our_solution.current_scores", {"Nope": 0.5}, "our_solution.current_scores", "unknown leaderboard 'Nope'"),
    ("our_solution.published_scores", {"Nope": 0.5}, "our_solution.published_scores", "unknown leaderboard 'Nope'"),
    ("promotion_threshold", 0, "promotion_threshold", "greater than 0"),
    ("promotion_threshold", DELETE, "promotion_threshold", "required but missing"),
    ("triggers.gap_widened_pct", -1, "triggers.gap_widened_pct", "greater than 0"),
    ("triggers.new_entrant_within_pct", "five", "triggers.new_entrant_within_pct", "valid number"),
    ("experiments.backend", "slurm", "experiments.backend", "unknown experiment backend 'slurm' (choose from local"),
    ("experiments.seed_policy", "random", "experiments.seed_policy", "unknown seed policy 'random' (choose from fixed"),
    ("experiments.compute_budget_gpu_hours_per_day", 0, "experiments.compute_budget_gpu_hours_per_day",
     "greater than 0"),
    ("experiments.fast_subset", 2, "experiments.fast_subset", "less than or equal to 1"),
    ("experiments.confirmation_seeds", -1, "experiments.confirmation_seeds", "greater than or equal to 0"),
    ("experiments.control_windows", 0, "experiments.control_windows", "greater than or equal to 1"),
    ("experiments.kubernetes.gpus", -1, "experiments.kubernetes.gpus", "greater than or equal to 0"),
    ("experiments.kubernetes.seeds_per_pod", 0, "experiments.kubernetes.seeds_per_pod", "greater than or equal to 1"),
    ("our_solution.config.eval_split", "test", "our_solution.config", "decisions use the validation split only"),
    ("experiments.local.seeds_per_task", 0, "experiments.local.seeds_per_task", "greater than or equal to 1"),
    ("experiments.local.seeds_per_pod", 2, "experiments.local.seeds_per_pod", "unknown key"),
    ("experiments.kubernetes.node_selector", ["gpu"], "experiments.kubernetes.node_selector", "valid dictionary"),
    ("experiments.kubernetes.imagee", "x", "experiments.kubernetes.imagee", "unknown key"),
    ("schedule", {"leaderboard_scrape": "0 6 * * *"}, "schedule", "unknown key (a typo?) (allowed here: domain,"),
    ("our_solution.slack_token", "abc", "our_solution.slack_token", "secrets never go in state files"),
    ("our_solution.config.webhook", "xoxb-1234-5678", "our_solution.config.webhook", "looks like a credential"),
]


@pytest.mark.parametrize("path,value,field,fragment", REGISTRY_CASES,
                         ids=[c[0] + ("-del" if c[1] is DELETE else "") for c in REGISTRY_CASES])
def test_registry_field_errors(path, value, field, fragment):
    expect_error(schemas.REGISTRY, mutate(example(schemas.REGISTRY), path, value), field, fragment)


def test_registry_duplicate_leaderboard_and_rss_pattern():
    data = example(schemas.REGISTRY)
    data["target_leaderboards"].append(copy.deepcopy(data["target_leaderboards"][0]))
    expect_error(schemas.REGISTRY, data, "", "leaderboard 'MemoryBench' appears twice")
    data = mutate(example(schemas.REGISTRY), "target_leaderboards[0].scrape_method", "rss")
    expect_error(schemas.REGISTRY, data, "target_leaderboards[0]", "scrape_method rss needs a `pattern`")


RESEARCH_CASES = [
    ("research_sources", DELETE, "research_sources", "required but missing"),
    ("research_sources.arxiv_queries", "memory", "research_sources.arxiv_queries", "valid list"),
    ("research_sources.venues", [2026], "research_sources.venues[0]", "valid string"),
    ("research_sources.competitor_blogs", {"a": 1}, "research_sources.competitor_blogs", "valid list"),
    ("research_sources.local_feeds", 3, "research_sources.local_feeds", "valid list"),
    ("research_sources.citation_tracking.papers", "x", "research_sources.citation_tracking.papers", "valid list"),
    ("research_sources.citation_tracking.api_url", 3, "research_sources.citation_tracking.api_url", "valid string"),
    ("research_sources.citation_tracking.api_key", "s2-key", "research_sources.citation_tracking.api_key",
     "secrets never go in state files"),
    ("research_sources.arxiv_query", ["x"], "research_sources.arxiv_query",
     "unknown key (a typo?) (allowed here: arxiv_queries"),
    ("arxiv.page_size", 0, "arxiv.page_size", "greater than or equal to 1"),
    ("arxiv.page_size", 5000, "arxiv.page_size", "less than or equal to 2000"),
    ("arxiv.max_results", 0, "arxiv.max_results", "greater than or equal to 1"),
    ("arxiv.delay_seconds", -1, "arxiv.delay_seconds", "greater than or equal to 0"),
    ("arxiv.retries", -1, "arxiv.retries", "greater than or equal to 0"),
    ("arxiv.timeout_seconds", 0, "arxiv.timeout_seconds", "greater than 0"),
    ("relevance_threshold", -0.1, "relevance_threshold", "greater than or equal to 0"),
    ("llm_extractor", {"enabled": "sometimes"}, "llm_extractor.enabled", "valid boolean"),
    ("llm_extractor", {"password": "x"}, "llm_extractor.password", "secrets never go"),
]


@pytest.mark.parametrize("path,value,field,fragment", RESEARCH_CASES,
                         ids=[c[0] + ("-del" if c[1] is DELETE else "") for c in RESEARCH_CASES])
def test_research_config_field_errors(path, value, field, fragment):
    expect_error(schemas.RESEARCH_CONFIG, mutate(example(schemas.RESEARCH_CONFIG), path, value), field, fragment)


QUEUE_CASES = [
    ("hypotheses", {"H-001": {}}, "hypotheses", "valid list"),
    ("hypotheses[0].id", "production", "hypotheses[0].id", "reserved"),
    ("hypotheses[0].id", "H 1", "hypotheses[0].id", "must look like H-042"),
    ("hypotheses[0].id", DELETE, "hypotheses[0].id", "required but missing"),
    ("hypotheses[0].title", "", "hypotheses[0].title", "at least 1 character"),
    ("hypotheses[0].claim", ["x"], "hypotheses[0].claim", "valid string"),
    ("hypotheses[0].source", 1, "hypotheses[0].source", "valid string"),
    ("hypotheses[0].target_leaderboards", [], "hypotheses[0].target_leaderboards", "at least 1 item"),
    ("hypotheses[0].implementation", DELETE, "hypotheses[0].implementation", "required but missing"),
    ("hypotheses[0].implementation.change", "", "hypotheses[0].implementation.change", "at least 1 character"),
    ("hypotheses[0].implementation.effort", "Huge", "hypotheses[0].implementation.effort",
     "'Low', 'Medium' or 'High' (got 'Huge')"),
    ("hypotheses[0].implementation.estimated_gain", "big", "hypotheses[0].implementation.estimated_gain",
     "valid number"),
    ("hypotheses[0].implementation.config_patch", ["width"], "hypotheses[0].implementation.config_patch",
     "valid dictionary"),
    ("hypotheses[0].implementation.effrot", "Low", "hypotheses[0].implementation.effrot",
     "unknown key (a typo?) (allowed here: change, effort, estimated_gain, config_patch)"),
    ("hypotheses[0].priority_score", DELETE, "hypotheses[0].priority_score", "required but missing"),
    ("hypotheses[0].priority_score", "high", "hypotheses[0].priority_score", "valid number"),
    ("hypotheses[0].status", "done", "hypotheses[0].status",
     "'queued', 'backlog', 'running', 'extended', 'confirming', 'promoted', 'rejected', 'failed', 'superseded' or "
     "'rolled_back'"),
    ("hypotheses[0].created_at", "2026-01-05T06:00:00", "hypotheses[0].created_at", "timezone"),
    ("hypotheses[0].notes", "tried", "hypotheses[0].notes", "valid list"),
    ("hypotheses[0].priority", 3, "hypotheses[0].priority", "unknown key"),
]


@pytest.mark.parametrize("path,value,field,fragment", QUEUE_CASES,
                         ids=[c[0] + ("-del" if c[1] is DELETE else "") for c in QUEUE_CASES])
def test_queue_field_errors(path, value, field, fragment):
    expect_error(schemas.QUEUE, mutate(example(schemas.QUEUE), path, value), field, fragment)


def test_queue_duplicate_ids():
    data = example(schemas.QUEUE)
    data["hypotheses"][1]["id"] = data["hypotheses"][0]["id"]
    expect_error(schemas.QUEUE, data, "", "hypothesis id 'H-001' appears twice")


NOW = "2026-01-05T06:00:00Z"
STATE_VALID = {
    schemas.GAP_MATRIX: {"generated_at": NOW, "run_id": "r1", "leaderboards": ["MemoryBench"],
                         "rows": [{"rank": 1, "system": "A", "scores": {"MemoryBench": 0.9}, "delta_to_ours": -0.01}]},
    schemas.VICTORY: {"leaderboards": {"MemoryBench": {"streak": 2, "mode": "defence", "updated_at": NOW}}},
    schemas.URGENCY: {"leaderboards": {"MemoryBench": {"reason": "rank_dropped", "multiplier": 3, "since": NOW}}},
    schemas.HTTP_CACHE: {"urls": {"http://x/": {"etag": '"abc"', "fetched_at": NOW}}},
    schemas.INGEST: {"watermark": NOW, "seen": {"2602.00001": 2}},
    schemas.SWEEP: {"running": {"H-001": {"run_id": "r1", "since": NOW}}, "gpu_seconds": {"2026-01-05": 120.5},
                    "defence": [{"run_id": "r1", "at": NOW, "config_hash": "abc", "seed": 10001, "score": 0.99}]},
    schemas.MONITOR: {"cycles": [{"run_id": "r1", "at": NOW, "boards": {"MemoryBench": {"status": "new", "rows": 4}},
                                  "alerts": ["[ALERT] x"], "finished": True}]},
}

STATE_CASES = [  # (file, path as keys, value, field in the message, fragment)
    (schemas.GAP_MATRIX, ("rows", 0, "rank"), 0, "rows[0].rank", "greater than or equal to 1"),
    (schemas.GAP_MATRIX, ("rows", 0, "scores", "MemoryBench"), "n/a", "rows[0].scores.MemoryBench", "valid number"),
    (schemas.GAP_MATRIX, ("generated_at",), "2026-01-05T06:00:00", "generated_at", "timezone"),
    (schemas.GAP_MATRIX, ("rows", 0, "gap"), 1, "rows[0].gap", "unknown key"),
    (schemas.VICTORY, ("leaderboards", "MemoryBench", "mode"), "panic", "leaderboards.MemoryBench.mode",
     "'attack' or 'defence'"),
    (schemas.VICTORY, ("leaderboards", "MemoryBench", "streak"), -1, "leaderboards.MemoryBench.streak",
     "greater than or equal to 0"),
    (schemas.URGENCY, ("leaderboards", "MemoryBench", "multiplier"), 2, "leaderboards.MemoryBench",
     "multiplier for rank_dropped is 3"),
    (schemas.URGENCY, ("leaderboards", "MemoryBench", "reason"), "bored", "leaderboards.MemoryBench.reason",
     "'rank_dropped'"),
    (schemas.URGENCY, ("leaderboards", "MemoryBench", "since"), DELETE, "leaderboards.MemoryBench.since",
     "required but missing"),
    (schemas.HTTP_CACHE, ("urls", "http://x/", "fetched_at"), "soon", "urls.http://x/.fetched_at", "valid datetime"),
    (schemas.INGEST, ("seen", "2602.00001"), "v2", "seen.2602.00001", "valid integer"),
    (schemas.INGEST, ("watermark",), "2026-01-05", "watermark", "timezone"),
    (schemas.MONITOR, ("cycles", 0, "boards", "MemoryBench", "status"), "odd", "cycles[0].boards.MemoryBench.status",
     "'new', 'unchanged' or 'refused'"),
    (schemas.MONITOR, ("cycles", 0, "at"), "yesterday", "cycles[0].at", "valid datetime"),
    (schemas.SWEEP, ("running", "H-001", "policy"), "greedy", "running.H-001.policy", "unknown seed policy 'greedy'"),
]


@pytest.mark.parametrize("file,keys,value,field,fragment", STATE_CASES, ids=[f"{c[0]}:{c[3]}" for c in STATE_CASES])
def test_state_file_field_errors(file, keys, value, field, fragment):
    expect_error(file, mutate(STATE_VALID[file], keys, value), field, fragment)


def given_part(dumped: Any, given: Any) -> Any:
    """``dumped`` cut down to the keys ``given`` has (recursively): what the file said, as parsed."""
    if isinstance(given, dict) and isinstance(dumped, dict):
        return {key: given_part(dumped.get(key, DELETE), value) for key, value in given.items()}
    if isinstance(given, list) and isinstance(dumped, list) and len(given) == len(dumped):
        return [given_part(d, g) for d, g in zip(dumped, given, strict=True)]
    return dumped


@pytest.mark.parametrize("name", list(STATE_VALID))
def test_state_files_valid_examples_parse(name):
    model = parse(FILES[name], STATE_VALID[name])
    dumped = json.loads(json.dumps(model.model_dump(mode="json")))
    assert given_part(dumped, STATE_VALID[name]) == STATE_VALID[name]  # every value kept as written
    assert parse(FILES[name], dumped) == model  # and what is written back reads back the same


def test_example_files_are_valid():
    for name in (schemas.REGISTRY, schemas.RESEARCH_CONFIG, schemas.QUEUE):
        data = example(name)
        model = parse(FILES[name], data)
        as_json = json.loads(json.dumps(data, default=str))  # YAML's dates as the ISO text the dump has
        assert given_part(model.model_dump(mode="json"), as_json) == as_json, name
    registry = parse(FILES[schemas.REGISTRY], example(schemas.REGISTRY))
    assert [(lb.name, lb.scrape_method, lb.primary_metric) for lb in registry.target_leaderboards] == [
        ("MemoryBench", "html_table", "accuracy"), ("LongContextEval", "api", "f1_score")]
    assert (registry.our_solution.name, registry.promotion_threshold) == ("OurSystem", 0.005)
    queue = parse(FILES[schemas.QUEUE], example(schemas.QUEUE))
    assert [(h.id, h.status, h.priority_score) for h in queue.hypotheses] == [("H-001", "queued", 1.0),
                                                                              ("H-002", "queued", 0.4)]


def test_top_level_must_be_mapping():
    expect_error(schemas.REGISTRY, ["a"], "", "the top level must be a mapping (got list)")


def test_every_state_file_has_a_schema_and_a_test():
    covered = {schemas.REGISTRY, schemas.RESEARCH_CONFIG, schemas.QUEUE, *STATE_VALID}
    assert covered == set(FILES)


def test_a_scraped_name_that_looks_like_a_key_is_a_name_not_a_secret():
    """A competitor called `sk-LearnGradientBoosting` must not stop the monitor (it writes the
    registry's competitors and the gap matrix); a key-looking value where people write config
    is still refused, and so is a secret-named key anywhere."""
    assert schemas.find_secrets({"competitors": [{"name": "sk-LearnGradientBoosting1234", "aliases": ["xoxb-bot"]}],
                                 "rows": [{"system": "sk-LearnGradientBoosting1234", "first": "xoxb-x"}],
                                 "papers": [{"title": "ghp_abcdefghijklmnopqrstuvwxyz",
                                             "authors": ["AKIA0123456789ABCDEF"]}]}) == []
    found = schemas.find_secrets({"our_solution": {"config": {"webhook": "xoxb-1234-5678"}},
                                  "competitors": [{"name": "A", "api_key": "x"}]})
    assert [path for path, _ in found] == ["our_solution.config.webhook", "competitors[0].api_key"]
