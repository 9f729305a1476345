"""After a promotion: the one evaluation on the test split, and the leaderboard submissions.

- :func:`evaluate_on_test`: the promoted config, once, on the test split (decisions never read
  it), into ``eval_on_leaderboard.json`` beside the runs;
- :func:`submit`: a POST of that result to each target leaderboard whose registry entry has a
  ``submission`` (:func:`autobench.net.post`), each answer recorded in ``submissions.json``; a
  leaderboard that accepted is not posted to again. The token (``AUTOBENCH_SUBMISSION_TOKEN``, or
  the Airflow connection the DAG reads) is never written anywhere: not in the record, the log or XCom.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from autobench import __version__, fsio, net
from autobench.clock import iso
from autobench.experiments import results
from autobench.experiments.config import spec_for
from autobench.schemas import QUEUE, REGISTRY, Decision, Registry
from autobench.store import StateStore

TOKEN_ENV = "AUTOBENCH_SUBMISSION_TOKEN"
ANSWER_CHARS = 500


def evaluate_on_test(store: StateStore, hid: str, decision: Decision, now: dt.datetime) -> str | None:
    """The promoted config, once, on the test split; the record's path relative to the home."""
    from autobench.experiments.runner import RunFailed, evaluate_once

    path = results.evaluation_path(store.home, hid, decision.config_hash)
    if path.exists():
        return results.relative(store.home, path)
    registry: Registry = store.load(REGISTRY)
    spec = spec_for(store, hid)
    seed = registry.our_solution.seeds[0]
    out: dict[str, Any] = {"hypothesis": hid, "config_hash": decision.config_hash, "split": "test", "seed": seed,
                           "evaluated_at": iso(now), "metrics": None, "error": None,
                           "projection": decision.projection,
                           "note": "evaluated once after the promotion; decisions use the validation split only"}
    try:
        metrics, env = evaluate_once(spec, seed, {"eval_split": "test"})
        out["metrics"], out["environment"] = metrics, env
    except RunFailed as exc:
        out["error"] = str(exc)
    path.parent.mkdir(parents=True, exist_ok=True)
    fsio.atomic_write(path, json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return results.relative(store.home, path)


def submit(store: StateStore, registry: Registry, hid: str, decision: Decision, now: dt.datetime,
           token: str | None = None) -> list[dict[str, Any]]:
    """POST the promoted result to each target leaderboard that accepts API submissions."""
    done_path = results.submissions_path(store.home, hid, decision.config_hash)
    done = results.read_json(done_path) or {}
    evaluation = (results.read_json(results.evaluation_path(store.home, hid, decision.config_hash))
                  or {}).get("metrics") or {}
    hyp = next(h for h in store.load(QUEUE).hypotheses if h.id == hid)
    secret = (token or os.environ.get(TOKEN_ENV) or "").strip()
    out = []
    for name in hyp.target_leaderboards:
        lb = registry.leaderboard(name)
        if lb.submission is None or done.get(name, {}).get("ok"):
            continue
        payload = {"system": registry.our_solution.name, "leaderboard": name, "hypothesis": hid,
                   "config_hash": decision.config_hash, "metric": lb.primary_metric,
                   "scores": evaluation, "submitted_at": iso(now)}
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        url = lb.submission.url
        try:
            answer = net.post(url, what=f"submission to {name}", user_agent=f"autobench/{__version__}",
                              json=payload, headers=headers)
            result = {"ok": True, "status": answer.status, "at": iso(now), "url": url,
                      "answer": answer.body.decode("utf-8", "replace")[:ANSWER_CHARS]}
        except net.NetError as exc:  # scrubbed of the token already
            text = exc.body.decode("utf-8", "replace") if exc.body else str(exc)
            result = {"ok": False, "status": exc.status, "at": iso(now), "url": url, "answer": text[:ANSWER_CHARS]}
        done[name] = result
        out.append({"leaderboard": name, **result})
    if out:
        done_path.parent.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(done_path, json.dumps(done, indent=2) + "\n")
    return out
