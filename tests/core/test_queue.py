"""`autobench queue add|list|rank`: numbering, scoring, ranking, refusals, nothing deleted."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from autobench import hypothesis_queue as hq
from autobench import schemas

NOW = "2026-01-05T06:00:00Z"


def hyp(title: str, gain: float = 0.01, effort: str = "Low", **extra) -> dict:
    return {
        "title": title,
        "claim": f"{title} improves MemoryBench",
        "source": "test",
        "target_leaderboards": ["MemoryBench"],
        "implementation": {"change": title, "effort": effort, "estimated_gain": gain, "config_patch": {"lr": 0.002}},
        **extra,
    }


def add(home, data, *flags, input=None):
    path = home / "new.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    return run_cli("queue", "add", str(path) if input is None else "-", "--now", NOW, "--json", *flags,
                   home=home, input=input)


def test_add_numbers_scores_and_ranks(home):
    proc = add(home, {"hypothesis": hyp("Rotary positions", gain=0.03, effort="Medium")})
    assert proc.returncode == 0, proc.stderr
    added = json.loads(proc.stdout)["added"]
    assert [h["id"] for h in added] == ["H-003"]
    h = added[0]
    assert h["priority_score"] == pytest.approx(100 * 0.03 / 2)  # SPEC: 100 × gain / effort_score × urgency
    assert h["status"] == "queued"
    assert h["created_at"] == "2026-01-05T06:00:00Z"
    listing = json.loads(run_cli("queue", "list", "--json", home=home, check=True).stdout)
    assert [x["id"] for x in listing["active"]] == ["H-003", "H-001", "H-002"]
    assert listing["archived"] == []
    for item in listing["active"]:
        assert {"id", "title", "claim", "source", "target_leaderboards", "implementation", "priority_score",
                "status"} <= set(item)
        assert {"change", "effort", "estimated_gain", "config_patch"} <= set(item["implementation"])


def test_add_accepts_the_seed_shape_a_list_and_stdin(home):
    proc = add(home, [hyp("A"), hyp("B", id="H-050")])
    assert [h["id"] for h in json.loads(proc.stdout)["added"]] == ["H-003", "H-050"]
    proc = add(home, None, input=json.dumps({"hypotheses": [hyp("C")]}))
    assert proc.returncode == 0, proc.stderr
    assert [h["id"] for h in json.loads(proc.stdout)["added"]] == ["H-051"]


def test_urgency_multiplier_applies_to_new_hypotheses(home, store):
    entry = schemas.UrgencyEntry(reason="rank_dropped", multiplier=3, since="2026-01-05T06:00:00Z")
    store.write(schemas.URGENCY, schemas.UrgencyState(leaderboards={"MemoryBench": entry}))
    h = json.loads(add(home, hyp("Urgent", gain=0.01, effort="Low")).stdout)["added"][0]
    assert h["priority_score"] == pytest.approx(100 * 0.01 / 1 * 3)


def test_top_ten_waiting_are_queued_the_rest_backlog(home, store):
    # two existing (priority 1.0) + 12 new with distinct priorities
    add(home, [hyp(f"T{i}", gain=0.001 * (i + 1)) for i in range(12)])
    queue = store.load(schemas.QUEUE)
    waiting = [h for h in hq.ranked(queue.hypotheses)]
    assert [h.status for h in waiting] == ["queued"] * 10 + ["backlog"] * 4
    assert waiting[0].title == "T11" and waiting[-1].priority_score == min(h.priority_score for h in waiting)
    # running / extended / closed are never touched by ranking
    with store.edit(schemas.QUEUE) as doc:
        doc["hypotheses"][0]["status"] = "running"
        doc["hypotheses"][1]["status"] = "rejected"
    proc = run_cli("queue", "rank", "--json", home=home, check=True)
    out = json.loads(proc.stdout)
    after = {h.id: h.status for h in store.load(schemas.QUEUE).hypotheses}
    assert after["H-001"] == "running" and after["H-002"] == "rejected"
    assert out["archived"][0]["id"] == "H-002"
    assert out["active"][0]["id"] == "H-001"  # running first
    assert sum(s == "queued" for s in after.values()) == 10
    assert sum(s == "backlog" for s in after.values()) == 2
    assert len(after) == 14  # nothing deleted


def test_rank_promotes_from_backlog_when_a_slot_frees(home, store):
    add(home, [hyp(f"T{i}", gain=0.001 * (i + 1)) for i in range(10)])
    statuses = {h.id: h.status for h in store.load(schemas.QUEUE).hypotheses}
    assert sorted(statuses.values()).count("backlog") == 2
    with store.edit(schemas.QUEUE) as doc:
        for h in doc["hypotheses"]:
            if h["title"] == "T9":
                h["status"] = "promoted"
    changes = json.loads(run_cli("queue", "rank", "--json", home=home, check=True).stdout)["changes"]
    assert len(changes) == 1 and changes[0]["from"] == "backlog" and changes[0]["to"] == "queued"


@pytest.mark.parametrize(
    "data,fragment",
    [
        (hyp("x", effort="Huge"), "new.yaml: implementation.effort: Input should be 'Low', 'Medium' or 'High'"),
        ({"hypothesis": {**hyp("x"), "target_leaderboards": ["Nope"]}},
         "new.yaml: hypothesis.target_leaderboards[0]: unknown leaderboard 'Nope'"),
        ([hyp("ok"), {**hyp("bad"), "status": "running"}],
         "new.yaml: [1].status: status 'running' is set by the experiment sweep"),
        (hyp("x", id="H-001"), "new.yaml: id: H-001 is already in experiment_queue.yaml"),
        (hyp("x", id="production"), "new.yaml: id: 'production' is reserved"),
        ({**hyp("x"), "implementation": {"change": "x", "effort": "Low"}},
         "new.yaml: implementation.estimated_gain: required but missing"),
        ({**hyp("x"), "api_token": "abc"}, "new.yaml: api_token: secrets never go in state files"),
        ("just a string", "new.yaml: expected a hypothesis"),
        ([], "new.yaml: no hypothesis in the file"),
    ],
)
def test_bad_hypotheses_are_refused_and_nothing_is_written(home, store, data, fragment):
    before = store.path(schemas.QUEUE).read_bytes()
    proc = add(home, data)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]
    assert store.path(schemas.QUEUE).read_bytes() == before


def test_list_text_output(home):
    out = run_cli("queue", "list", home=home, check=True).stdout
    assert "H-001" in out and "queued" in out and "2 open, 0 closed" in out


def test_next_id_skips_non_numbered_ids():
    assert hq.next_id(["H-001", "H-009", "custom-1", "H-2"]) == "H-010"
    assert hq.next_id([]) == "H-001"
    assert hq.priority_score(0.027, "Medium", 3.0) == pytest.approx(4.05)


def test_a_hypothesis_that_would_evaluate_on_the_test_split_is_refused(home):
    """SPEC: the test split never decides; only the one evaluation after a promotion sets it."""
    before = (home / "experiment_queue.yaml").read_bytes()
    bad = hyp("Peek at the test split")
    bad["implementation"]["config_patch"] = {"eval_split": "test", "lr": 0.004}
    proc = add(home, {"hypothesis": bad})
    assert proc.returncode != 0
    assert "eval_split: decisions use the validation split only" in proc.stderr
    assert (home / "experiment_queue.yaml").read_bytes() == before  # nothing half-applied
