"""No update is lost: 8 processes × 25 `autobench queue add` at the same time."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import autobench_cmd

from autobench import schemas
from autobench.store import StateStore

WORKERS, ADDS_EACH = 8, 25


@pytest.mark.slow
def test_concurrent_queue_adds_lose_nothing(home, tmp_path):
    initial = len(StateStore(home).load(schemas.QUEUE).hypotheses)
    files = []
    for w in range(WORKERS):
        path = tmp_path / f"worker{w}.yaml"
        path.write_text(json.dumps({
            "title": f"worker {w}",
            "target_leaderboards": ["MemoryBench"],
            "implementation": {"change": f"change by worker {w}", "effort": "Low", "estimated_gain": 0.001 * (w + 1)},
        }))
        files.append(path)

    def worker(w: int) -> list[str]:
        ids = []
        for _ in range(ADDS_EACH):
            proc = subprocess.run(autobench_cmd() + ["queue", "add", str(files[w]), "--json", "--home", str(home)],
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr
            ids.extend(h["id"] for h in json.loads(proc.stdout)["added"])
        return ids

    with ThreadPoolExecutor(WORKERS) as pool:
        reported = [i for ids in pool.map(worker, range(WORKERS)) for i in ids]

    assert len(reported) == WORKERS * ADDS_EACH
    assert len(set(reported)) == len(reported), "two adds were given the same id"
    queue = StateStore(home).load(schemas.QUEUE)  # the file loads and validates
    listing = json.loads(subprocess.run(autobench_cmd() + ["queue", "list", "--json", "--home", str(home)],
                                        capture_output=True, text=True, check=True).stdout)
    accounted = listing["active"] + listing["archived"]
    assert len(accounted) == initial + WORKERS * ADDS_EACH
    ids = [h.id for h in queue.hypotheses]
    assert len(set(ids)) == len(ids)
    assert set(reported) <= set(ids)
    per_worker = {w: sum(h.title == f"worker {w}" for h in queue.hypotheses) for w in range(WORKERS)}
    assert per_worker == {w: ADDS_EACH for w in range(WORKERS)}
    assert sum(h.status == "queued" for h in queue.hypotheses) == schemas.QUEUE_ACTIVE_LIMIT
    # every replaced version was kept
    assert len(list((home / "history" / "experiment_queue").iterdir())) == WORKERS * ADDS_EACH
