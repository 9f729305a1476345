"""The state store: round-trip rewrites, history, atomic and idempotent writes, clear refusals."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from autobench import fsio, schemas
from autobench.schemas import StateError
from autobench.store import StateStore, guess_indent

NOW = dt.datetime(2026, 1, 5, 6, tzinfo=dt.UTC)


def test_comment_survives_a_rewrite(store: StateStore):
    path = store.path(schemas.REGISTRY)
    text = path.read_text()
    text = text.replace("promotion_threshold: 0.005",
                        "promotion_threshold: 0.005  # agreed with the team on 2026-01-02")
    text = text.replace("competitors:\n", "# Watch StartupX too once it publishes.\ncompetitors:\n")
    path.write_text(text)
    with store.edit(schemas.REGISTRY) as doc:
        doc["our_solution"]["current_scores"]["MemoryBench"] = 0.861
    after = path.read_text()
    assert "promotion_threshold: 0.005  # agreed with the team on 2026-01-02" in after
    assert "# Watch StartupX too once it publishes.\ncompetitors:" in after
    assert "    MemoryBench: 0.861\n" in after
    # nothing else moved: the only changed line is the score
    diff = [(a, b) for a, b in zip(text.splitlines(), after.splitlines(), strict=True) if a != b]
    assert diff == [("    MemoryBench: 0.823", "    MemoryBench: 0.861")]
    assert store.load(schemas.REGISTRY).our_solution.current_scores["MemoryBench"] == 0.861


def test_key_order_and_other_indentation_styles_survive(tmp_path):
    store = StateStore(tmp_path)
    text = (
        "# flush-left lists, 4-space maps\n"
        "research_sources:\n"
        "    arxiv_queries:\n"
        "    - b query   # second\n"
        "    - a query\n"
        "    venues: [ICLR 2026]\n"
        "relevance_threshold: 0.2\n"
        "arxiv:\n"
        "    retries: 1\n"
        "    page_size: 10\n"
    )
    store.path(schemas.RESEARCH_CONFIG).write_text(text)
    assert guess_indent(text) == (4, 2, 0)
    with store.edit(schemas.RESEARCH_CONFIG) as doc:
        doc["relevance_threshold"] = 0.3
    assert store.path(schemas.RESEARCH_CONFIG).read_text() == text.replace("0.2", "0.3")


def test_replaced_version_is_kept_in_history(store: StateStore):
    original = store.path(schemas.QUEUE).read_text()
    with store.edit(schemas.QUEUE) as doc:
        doc["hypotheses"][0]["status"] = "backlog"
    with store.edit(schemas.QUEUE) as doc:
        doc["hypotheses"][0]["status"] = "queued"
    kept = sorted((store.home / "history" / "experiment_queue").iterdir())
    assert [p.name for p in kept] == ["000001.yaml", "000002.yaml"]
    assert kept[0].read_text() == original
    assert "status: backlog" in kept[1].read_text()


def test_unchanged_content_writes_nothing(store: StateStore):
    path = store.path(schemas.QUEUE)
    before = os.stat(path)
    with store.edit(schemas.QUEUE) as doc:
        doc["hypotheses"][0]["status"] = doc["hypotheses"][0]["status"]
    assert os.stat(path).st_ino == before.st_ino
    assert not (store.home / "history" / "experiment_queue").exists()
    assert store.write(schemas.GAP_MATRIX, schemas.GapMatrix(run_id="r1")) is True
    assert store.write(schemas.GAP_MATRIX, schemas.GapMatrix(run_id="r1")) is False


def test_invalid_edit_is_refused_and_nothing_written(store: StateStore):
    path = store.path(schemas.REGISTRY)
    before = path.read_bytes()
    with pytest.raises(StateError) as info:
        with store.edit(schemas.REGISTRY) as doc:
            doc["target_leaderboards"][0]["scrape_method"] = "telepathy"
    assert str(info.value).startswith("competitive_registry.yaml: target_leaderboards[0].scrape_method:")
    assert path.read_bytes() == before
    assert not (store.home / "history" / "competitive_registry").exists()


def test_exception_inside_edit_writes_nothing(store: StateStore):
    before = store.path(schemas.QUEUE).read_bytes()
    with pytest.raises(RuntimeError):
        with store.edit(schemas.QUEUE) as doc:
            doc["hypotheses"][0]["status"] = "backlog"
            raise RuntimeError("boom")
    assert store.path(schemas.QUEUE).read_bytes() == before


def test_json_state_round_trip_and_default(store: StateStore):
    assert store.load(schemas.URGENCY).leaderboards == {}  # absent optional file: empty default
    entry = schemas.UrgencyEntry(reason="rank_dropped", multiplier=3, since=NOW, detail="CompetitorA passed us")
    store.write(schemas.URGENCY, schemas.UrgencyState(leaderboards={"MemoryBench": entry}))
    with store.edit(schemas.URGENCY) as data:
        data["leaderboards"]["MemoryBench"]["detail"] = "CompetitorA passed us on 2026-01-07"
    loaded = store.load(schemas.URGENCY)
    assert loaded.leaderboards["MemoryBench"].multiplier == 3
    assert loaded.leaderboards["MemoryBench"].since == NOW
    assert loaded.leaderboards["MemoryBench"].detail.endswith("2026-01-07")
    assert len(list((store.home / "history" / "state" / "urgency").iterdir())) == 1


@pytest.mark.parametrize(
    "text,where,fragment",
    [
        ("domain: memory\n  bad: indent\n", "line 2, column", "invalid YAML"),
        ("domain: a\ndomain: b\n", "line 2, column 1", 'duplicate key "domain"'),
        ("domain: [unclosed\n", "line 2", "invalid YAML"),
        ("domain: !!python/object:os.system {}\n", "line 1", "invalid YAML"),
    ],
)
def test_yaml_syntax_errors_name_the_line(store: StateStore, text, where, fragment):
    store.path(schemas.REGISTRY).write_text(text)
    with pytest.raises(StateError) as info:
        store.load(schemas.REGISTRY)
    assert str(info.value).startswith(f"competitive_registry.yaml: {where}")
    assert fragment in str(info.value)


def test_invalid_json_and_missing_and_binary_files(store: StateStore):
    store.path(schemas.GAP_MATRIX).write_text('{"rows": [}')
    with pytest.raises(StateError, match=r"^state/gap_matrix.json: line 1, column 11: invalid JSON"):
        store.load(schemas.GAP_MATRIX)
    store.path(schemas.QUEUE).unlink()
    with pytest.raises(StateError, match=r"^experiment_queue.yaml: missing in .* `autobench init`"):
        store.load(schemas.QUEUE)
    store.path(schemas.RESEARCH_CONFIG).write_bytes(b"\xff\xfe research")
    with pytest.raises(StateError, match="not UTF-8"):
        store.load(schemas.RESEARCH_CONFIG)


def test_stale_temp_files_of_killed_writers_are_removed(store: StateStore):
    stale = store.path(schemas.QUEUE).with_name(".experiment_queue.yaml.tmp-99999-deadbeef")
    stale.write_text("half a file")
    with store.edit(schemas.QUEUE) as doc:
        doc["hypotheses"][0]["status"] = "backlog"
    assert not stale.exists()


def test_atomic_write_leaves_no_temp_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fsio.os, "replace", broken_replace)
    with pytest.raises(OSError):
        fsio.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_unknown_state_file_name_is_refused(store: StateStore):
    with pytest.raises(KeyError, match="not a state file"):
        store.load("secrets.yaml")
