"""The monitor cycle against a real HTTP server on loopback: pages that change from day to day."""

from __future__ import annotations

import functools
import json
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import run_cli

from autobench.clock import parse_now
from autobench.monitor.cycle import MonitorRefused, cycle, finish_cycle, scrape_leaderboard
from autobench.monitor.snapshots import snapshots
from autobench.schemas import GAP_MATRIX, MONITOR, REGISTRY, URGENCY, VICTORY
from autobench.store import StateStore

PAGE = """<!doctype html><html><body><h1>MemoryBench (demo)</h1>
<table><thead><tr><th>Rank</th><th>System</th><th>Accuracy</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>"""


def html(rows: list[tuple[str, float]]) -> str:
    body = "\n".join(f"<tr><td>{i}</td><td>{s}</td><td>{v}</td></tr>" for i, (s, v) in enumerate(rows, 1))
    return PAGE.format(rows=body)


def api(rows: list[tuple[str, float]]) -> str:
    return json.dumps({"results": [{"system": s, "f1_score": v} for s, v in rows]})


DAY1 = [("CompetitorA", 0.847), ("CompetitorB", 0.831), ("OurSystem", 0.823), ("BaselineLSTM", 0.702)]
LCE = [("CompetitorA", 0.812), ("OurSystem", 0.791), ("CompetitorB", 0.764)]


class Site:
    """A folder served over HTTP on 127.0.0.1; `put` changes a page and moves its mtime on."""

    def __init__(self, root: Path):
        self.root = root
        self.count = 0
        handler = functools.partial(_Quiet, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def put(self, name: str, text: str) -> None:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        self.count += 1
        stamp = 1_700_000_000 + self.count * 86400
        os.utime(path, (stamp, stamp))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    s = Site(root)
    s.put("memorybench.html", html(DAY1))
    s.put("lce.json", api(LCE))
    yield s
    s.close()


@pytest.fixture
def live(store, site):
    with store.edit(REGISTRY) as doc:
        doc["target_leaderboards"][0]["url"] = f"{site.url}/memorybench.html"
        doc["target_leaderboards"][1]["url"] = f"{site.url}/lce.json"
    return store


def day(n: int):
    return parse_now(f"2026-01-{4 + n:02d}T06:00:00Z"), f"scheduled__2026-01-{4 + n:02d}T06:00:00+00:00"


def test_first_cycle_snapshots_status_and_gap_matrix(live):
    now, run_id = day(1)
    result = cycle(live, now, run_id)
    assert result["refused"] == [] and result["alerts"] == []
    assert "[STATUS] Our rank: #3 | Gap to #1: -0.024 on MemoryBench" in result["status"]
    assert "[STATUS] Our rank: #2 | Gap to #1: -0.021 on LongContextEval" in result["status"]
    assert result["triggers"] == ["autobench://registry"]
    assert len(snapshots(live.home, "MemoryBench")) == 1
    matrix = live.load(GAP_MATRIX)
    assert matrix.run_id == run_id and matrix.leaderboards == ["MemoryBench", "LongContextEval"]
    assert [r.system for r in matrix.rows][:3] == ["CompetitorA", "CompetitorB", "OurSystem"]
    reg = live.load(REGISTRY)
    assert reg.our_solution.published_scores == {"MemoryBench": 0.823, "LongContextEval": 0.791}
    assert {(c.name, c.source) for c in reg.competitors} >= {("CompetitorA", "LongContextEval"),
                                                              ("BaselineLSTM", "MemoryBench")}


def test_an_unchanged_page_is_not_parsed_again(live):
    cycle(live, *day(1))
    result = cycle(live, *day(2))
    entry = live.load(MONITOR).cycles[-1]
    assert {b.status for b in entry.boards.values()} == {"unchanged"}  # 304 Not Modified
    assert len(snapshots(live.home, "MemoryBench")) == 1
    assert result["alerts"] == [] and "autobench://registry" not in result["triggers"]


def test_a_competitor_overtakes_us_urgent_trigger_and_urgency(live, site):
    cycle(live, *day(1))
    site.put("memorybench.html", html([("CompetitorA", 0.861), ("StartupX", 0.855), ("CompetitorB", 0.831),
                                       ("OurSystem", 0.823), ("BaselineLSTM", 0.702)]))
    now, run_id = day(3)
    result = cycle(live, now, run_id)
    assert "[ALERT] CompetitorA improved on MemoryBench: 0.847 → 0.861 (+0.014)" in result["alerts"]
    assert "[ALERT] New entrant: StartupX at 0.855 — now ranked #2, ahead of us on MemoryBench" in result["alerts"]
    assert "[ALERT] Our rank dropped on MemoryBench: #3 → #4" in result["alerts"]
    assert "[STATUS] Our rank: #4 | Gap to #1: -0.038 on MemoryBench" in result["status"]
    assert "autobench://urgent" in result["triggers"] and "autobench://gap-widened" in result["triggers"]
    urgent = next(t for t in result["trigger_events"] if t["asset"] == "autobench://urgent")
    assert urgent["extra"]["leaderboard"] == "MemoryBench" and urgent["extra"]["reason"] == "rank_dropped"
    urgency = live.load(URGENCY).leaderboards["MemoryBench"]
    assert urgency.reason == "rank_dropped" and urgency.multiplier == 3.0
    reg = live.load(REGISTRY)
    a = next(c for c in reg.competitors if c.name == "CompetitorA" and c.source == "MemoryBench")
    assert a.latest_score == 0.861 and str(a.last_updated) == "2026-01-07"
    assert any(c.name == "StartupX" for c in reg.competitors)


def test_a_rerun_of_the_same_run_writes_nothing_twice(live, site):
    cycle(live, *day(1))
    site.put("memorybench.html", html([("CompetitorA", 0.861)] + DAY1[1:]))
    now, run_id = day(2)
    cycle(live, now, run_id)
    files = {p: p.read_bytes() for p in live.home.rglob("*") if p.is_file() and ".locks" not in p.parts}
    scrape_leaderboard(live, "MemoryBench", now, run_id)
    again = finish_cycle(live, now, run_id)
    assert again["alerts"] == ["[ALERT] CompetitorA improved on MemoryBench: 0.847 → 0.861 (+0.014)"]
    after = {p: p.read_bytes() for p in live.home.rglob("*") if p.is_file() and ".locks" not in p.parts}
    assert after == files
    # the whole cycle again (`autobench monitor` replayed with the same --now): nothing is fetched
    # over what this run recorded, so its alerts and triggers stay
    rerun = cycle(live, now, run_id)
    assert rerun["alerts"] == again["alerts"] and rerun["triggers"] == again["triggers"]
    entry = next(c for c in live.load(MONITOR).cycles if c.run_id == run_id)
    assert entry.alerts == again["alerts"] and entry.boards["MemoryBench"].status == "new"


@pytest.mark.parametrize("page, why", [
    (PAGE.format(rows=""), "JavaScript"),
    (PAGE.format(rows='<tr><td colspan="3">Loading leaderboard data...</td></tr>'), "JavaScript"),
    (html([("CompetitorA", 0.85)]), "more than half lost"),
    ("<html><body><table><tr><th>Rank</th><th>System</th><th>Elo</th></tr><tr><td>1</td><td>X</td><td>1200</td></tr>"
     "</table></body></html>", "no table names the metric .accuracy."),
])
def test_refusals_change_nothing_and_the_other_leaderboards_go_on(live, site, page, why):
    cycle(live, *day(1))
    before_registry = live.path(REGISTRY).read_text()
    site.put("memorybench.html", page)
    site.put("lce.json", api([("CompetitorA", 0.815)] + LCE[1:]))
    now, run_id = day(2)
    with pytest.raises(MonitorRefused, match=f"MemoryBench: refused: .*{why}"):
        scrape_leaderboard(live, "MemoryBench", now, run_id)
    scrape_leaderboard(live, "LongContextEval", now, run_id)
    result = finish_cycle(live, now, run_id)
    assert [r["leaderboard"] for r in result["refused"]] == ["MemoryBench"]
    assert len(snapshots(live.home, "MemoryBench")) == 1
    assert "[ALERT] CompetitorA improved on LongContextEval: 0.812 → 0.815 (+0.003)" in result["alerts"]
    reg = live.load(REGISTRY)
    assert next(c for c in reg.competitors
                if c.name == "CompetitorA" and c.source == "MemoryBench").latest_score == 0.847
    assert live.path(REGISTRY).read_text() != before_registry  # LongContextEval's update went in


def test_victory_sustained_for_k_cycles_switches_to_defence(live, site):
    with live.edit(REGISTRY) as doc:
        doc["target_leaderboards"][0]["victory"]["sustained_cycles"] = 2
    for n, lead in enumerate([0.001, 0.003, 0.004], start=1):
        site.put("memorybench.html", html([("OurSystem", 0.85 + lead), ("CompetitorA", 0.85)]))
        cycle(live, *day(n))
        mode = live.load(VICTORY).leaderboards["MemoryBench"]
        assert mode.streak == [0, 1, 2][n - 1]  # the first lead (0.001) is under the 0.002 margin
    assert mode.mode == "defence"
    assert live.load(VICTORY).leaderboards["LongContextEval"].mode == "attack"


def test_monitor_and_gap_commands(live, site):
    proc = run_cli("monitor", "--json", "--now", "2026-01-05T06:00:00Z", home=live.home, check=True)
    out = json.loads(proc.stdout)
    assert set(out) >= {"alerts", "status", "refused", "triggers", "gap_matrix"}
    proc = run_cli("gap", "--json", home=live.home, check=True)
    gap = json.loads(proc.stdout)
    assert gap["leaderboards"] == ["MemoryBench", "LongContextEval"]
    assert {"rank", "system", "scores", "delta_to_ours"} <= set(gap["rows"][0])
    proc = run_cli("gap", home=live.home, check=True)
    assert "| #3 | OurSystem | 0.823 | 0.791 | — |" in proc.stdout
    site.put("memorybench.html", PAGE.format(rows=""))
    proc = run_cli("monitor", "--now", "2026-01-06T06:00:00Z", home=live.home)
    assert proc.returncode == 1 and "[REFUSED] MemoryBench" in proc.stdout


def test_the_example_works_offline(home):
    """`make run`'s home: the example's pages are local files named relative to the home."""
    result = cycle(StateStore(home), *day(1))
    assert result["refused"] == []
    assert "[STATUS] Our rank: #3 | Gap to #1: -0.024 on MemoryBench" in result["status"]


def test_scrape_command_prints_rows_in_page_order(home, tmp_path):
    proc = run_cli("scrape", "pages/memorybench.html", "--method", "html_table", "--metric", "Accuracy", "--json",
                   home=home, check=True)
    rows = json.loads(proc.stdout)
    assert rows[0] == {"rank": 1, "system": "CompetitorA", "score": 0.847} and len(rows) == 4
    proc = run_cli("scrape", "pages/longcontexteval.json", "--method", "api", "--records", "results",
                   "--metric", "f1_score", "--system-column", "system", "--json", home=home, check=True)
    assert [r["system"] for r in json.loads(proc.stdout)] == ["CompetitorA", "OurSystem", "CompetitorB"]
    js = tmp_path / "js.html"
    js.write_text(PAGE.format(rows=""))
    proc = run_cli("scrape", js.as_uri(), "--method", "html_table", "--metric", "accuracy")
    assert proc.returncode == 1 and "JavaScript" in proc.stderr and proc.stderr.count("\n") == 1
