"""The autobench page: ``autobench.reporting.web`` (HTML, escaping, bad state), the plugin's FastAPI app
(every route behind Airflow's access check), and, marked slow, a real ``airflow standalone`` with
the plugin loaded, driven by headless Chromium: refused anonymously, logged in through the UI's
login page, the page's content, the DAG list and grid, and screenshots.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from conftest import REPO

from autobench.reporting import web
from autobench.schemas import GAP_MATRIX, QUEUE
from autobench.store import StateStore

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CRITERIA = ("improvement", "significance", "regression", "reproducibility", "projection")


def gap_matrix(evil: str = EVIL) -> dict:
    return {
        "generated_at": "2026-01-05T06:00:00Z",
        "run_id": "manual__2026-01-05T06:00:00Z",
        "leaderboards": ["MemoryBench", "LongContextEval"],
        "rows": [
            {"rank": 1, "system": evil, "scores": {"MemoryBench": 0.851, "LongContextEval": 0.8},
             "delta_to_ours": -0.0185, "ours": False},
            {"rank": 2, "system": "CompetitorA", "scores": {"MemoryBench": 0.847, "LongContextEval": 0.812},
             "delta_to_ours": -0.0225, "ours": False},
            {"rank": 3, "system": "OurSystem", "scores": {"MemoryBench": 0.823, "LongContextEval": 0.791},
             "delta_to_ours": None, "ours": True, "current_scores": {}},
            {"rank": 4, "system": "BaselineLSTM", "scores": {"MemoryBench": 0.702},
             "delta_to_ours": 0.121, "ours": False},
        ],
    }


def decision(hid: str = "H-002", decided_at: str = "2026-01-07T08:00:00Z", outcome: str = "promote",
             reason: str = "H-002 is promoted.", chash: str = "c5d4e5d9833c") -> dict:
    passed = outcome == "promote"
    values = {"improvement": 0.0091, "significance": 0.000492,
              "regression": {"latency_change_pct": 0.0, "memory_change_pct": 0.0},
              "reproducibility": {"seeds": 3, "std_pct_of_mean": 0.185},
              "projection": {"current_rank": 3, "projected_rank": 2, "p_first": 0.0}}
    return {
        "hypothesis": hid, "decision": outcome, "status": "promoted" if passed else "rejected",
        "criteria": [{"name": name, "passed": passed or name != "improvement", "value": values[name],
                      "requirement": f"{name} requirement ≥ 0.005", "detail": ""} for name in CRITERIA],
        "projection": {"current_rank": 3, "projected_rank": 2}, "reason": reason,
        "policy": {"name": "fixed"},
        "evidence": {"metric": "accuracy", "seeds": [1, 2, 3]},
        "config_hash": chash, "production_hash": "df9b825c6e1a", "decided_at": decided_at,
    }


def write_decision(home: Path, record: dict) -> Path:
    path = home / "experiments" / "results" / record["hypothesis"] / record["config_hash"] / "decision.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def evil_home(home: Path) -> Path:
    """The recall example, a gap matrix with a hostile competitor name, and two decisions."""
    store = StateStore(home)
    store.write(GAP_MATRIX, gap_matrix())
    with store.edit(QUEUE) as doc:
        doc["hypotheses"][1]["title"] = "Wider <img src=x onerror=alert(2)> model"
    write_decision(home, decision(reason=f"promoted over {EVIL} & friends"))
    write_decision(home, decision("H-001", "2026-01-06T08:00:00Z", "reject", "H-001 gains too little.", "aaa111"))
    return home


# --------------------------------------------------------------------------- autobench.reporting.web


def test_page_escapes_every_piece_of_state_text(evil_home):
    page = web.page(evil_home)
    assert EVIL_ESCAPED in page
    assert "<script" not in page  # the page itself has no script, and none gets in
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "<img src=x" not in page
    assert f"promoted over {EVIL_ESCAPED} &amp; friends" in page


def test_page_shows_the_gap_matrix_queue_and_decisions(evil_home):
    page = web.page(evil_home)
    # gap matrix: our row highlighted, Δ coloured by sign
    assert '<tr class="ours"><td>#3</td><td>OurSystem <span class="tag">ours</span>' in page
    assert 'class="num behind" title="this system leads us">-0.02' in page
    assert 'class="num ahead" title="we lead this system">+0.121<' in page
    # queue: open ones ranked (H-001 priority 1.0 before H-002 0.4), statuses as badges
    assert page.index("<code>H-001</code>") < page.index("<code>H-002</code>")
    assert '<span class="badge b-queued">queued</span>' in page
    # decisions, newest first, each with the five criteria
    assert page.index('<code>H-002</code> <span class="badge b-promote">') < page.index(
        '<code>H-001</code> <span class="badge b-reject">')
    for name in CRITERIA:
        assert f"<td>{name}</td>" in page
    assert '<span class="badge b-pass">PASS</span>' in page and '<span class="badge b-fail">FAIL</span>' in page
    assert "p = 0.000492" in page and "rank #3 → #2" in page and "+0.0091" in page
    assert "improvement requirement ≥ 0.005" in page
    # plots are <img> tags on the relative plots/<name>.png route (or a note without autobench.reporting.plots)
    if web.plots_available():
        assert 'src="plots/gap_over_time.png"' in page and 'src="plots/latest_experiment.png"' in page


def test_decisions_are_the_newest_ten_and_invalid_ones_are_reported(home):
    for day in range(1, 13):
        write_decision(home, decision(f"H-{day:03d}", f"2026-02-{day:02d}T08:00:00Z", chash=f"h{day:02d}"))
    bad = home / "experiments/results/H-999/zzz/decision.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"hypothesis": "H-999"}')
    found, errors = web.read_decisions(home)
    assert [record.hypothesis for _, record in found] == [f"H-{d:03d}" for d in range(12, 2, -1)]
    assert len(errors) == 1 and errors[0].startswith("experiments/results/H-999/zzz/decision.json: ")
    page = web.page(home)
    assert "H-012" in page and "<code>H-002</code> <span" not in page and "H-999/zzz/decision.json" in page


def test_a_missing_or_invalid_state_folder_is_a_message_not_an_exception(tmp_path, home):
    missing = web.page(tmp_path / "nowhere")
    assert "does not exist" in missing and "autobench init" in missing
    assert web.state(tmp_path / "nowhere")["ok"] is False
    (tmp_path / "empty").mkdir()
    assert "is not an autobench state folder" in web.page(tmp_path / "empty")

    (home / GAP_MATRIX).write_text('{"rows": [{"rank": 0, "system": "X"}]}')
    (home / QUEUE).write_text("hypotheses: [\n")
    page = web.page(home)
    assert 'class="error">state/gap_matrix.json: rows[0].rank' in page
    assert 'class="error">experiment_queue.yaml: line' in page
    data = web.state(home)
    assert data["ok"] is True and data["gap_matrix"] is None and data["queue"] is None
    assert len(data["errors"]) == 2


def test_no_gap_matrix_yet(home):
    page = web.page(home)
    assert "No gap matrix yet" in page and "H-001" in page and "No decisions yet" in page


def test_page_and_state_write_nothing(evil_home, tmp_path):
    before = snapshot(evil_home)
    web.page(evil_home)
    data = web.state(evil_home)
    for name in web.PLOTS:
        web.render_plot(evil_home, name, tmp_path / "plots")
    assert snapshot(evil_home) == before
    assert [d["hypothesis"] for d in data["decisions"]] == ["H-002", "H-001"]
    assert data["gap_matrix"]["rows"][0]["system"] == EVIL  # JSON keeps the text as it is
    assert [h["id"] for h in data["queue"]["active"]] == ["H-001", "H-002"]


def test_plots_are_none_when_unknown_or_when_autobench_plots_is_missing(evil_home, tmp_path, monkeypatch):
    assert web.render_plot(evil_home, "../../etc/passwd", tmp_path) is None
    monkeypatch.setitem(sys.modules, "autobench.reporting.plots", None)  # import fails
    assert web.plots_available() is False
    assert web.render_plot(evil_home, "gap_over_time", tmp_path) is None
    assert "Plots are not available" in web.page(evil_home)


# --------------------------------------------------------------------------- the plugin's app


@pytest.fixture(scope="module")
def plugin_module():
    """plugins/autobench_ui.py, with Airflow's auth manager initialised (no database needed to refuse)."""
    pytest.importorskip("airflow")
    from airflow.api_fastapi.app import init_auth_manager

    sys.path.insert(0, str(REPO / "plugins"))
    try:
        import autobench_ui
    finally:
        sys.path.remove(str(REPO / "plugins"))
    init_auth_manager()
    return autobench_ui


@pytest.fixture
def plugin_app(plugin_module, monkeypatch, evil_home):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AUTOBENCH_HOME", str(evil_home))
    return plugin_module, TestClient(plugin_module.app)


def test_the_plugin_declares_its_app_and_nav_entry(plugin_app):
    module, _ = plugin_app
    plugin = module.AutobenchUIPlugin
    assert plugin.fastapi_apps == [{"app": module.app, "url_prefix": "/autobench", "name": "autobench"}]
    (view,) = plugin.external_views
    # relative, so it follows Airflow's base path (test_the_page_follows_airflow_under_a_base_path)
    assert view["href"] == "autobench/" and view["destination"] == "nav" and view["url_route"] == "autobench"


def test_every_route_of_the_plugin_refuses_anonymous_requests(plugin_app):
    module, client = plugin_app
    paths = {r.path for r in module.app.routes}
    assert paths == {"/", "/plots/{name}.png", "/api/state"}
    for path in ("/", "/api/state", "/plots/gap_over_time.png", "/plots/nope.png"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403, path
        client.cookies.set("_token", "not-a-jwt")
        assert client.get(path).status_code == 403, path
        client.cookies.clear()


def test_the_plugin_routes_once_access_is_granted(plugin_app):
    module, client = plugin_app
    (dep,) = module.app.router.dependencies  # the one app-wide access check
    module.app.dependency_overrides[dep.dependency] = lambda: None
    try:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert EVIL_ESCAPED in page.text and "<script" not in page.text
        state = client.get("/api/state").json()
        assert state["ok"] and state["gap_matrix"]["rows"][1]["system"] == "CompetitorA"
        assert client.get("/plots/nope.png").status_code == 404
        shot = client.get("/plots/gap_over_time.png")  # no snapshots in this home: nothing to plot
        assert shot.status_code == 404
    finally:
        module.app.dependency_overrides.clear()


# --------------------------------------------------------------------------- a real standalone


@pytest.fixture
def ui():
    """scripts/screenshots.py (Standalone, the browser helpers); skips without Chromium."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import screenshots
    finally:
        sys.path.remove(str(REPO / "scripts"))
    why = screenshots.missing_browser()
    if why:
        pytest.skip(why)
    return screenshots


@pytest.mark.slow
def test_standalone_serves_the_page_behind_login_and_chromium_shows_it(tmp_path, ui):
    home = ui.demo_home(tmp_path / "autobench_home")  # real monitor cycle, a promote and a reject
    before = snapshot(home)
    server = ui.Standalone(tmp_path / "airflow_home", home).start()
    driver = None
    try:
        server.wait_healthy(timeout=300)
        url = server.url

        # (a) nothing under /autobench without Airflow's login
        for path in ("/autobench/", "/autobench/api/state", "/autobench/plots/gap_over_time.png"):
            status, _ = ui.api(url, None, path)
            assert status in (401, 403), (path, status)
            status, _ = ui.api(url, "not-a-jwt", path)
            assert status in (401, 403), (path, status)

        password = server.password()
        token = ui.api_token(url, password)
        dag_ids = ui.wait_for_dags(url, token)
        assert set(ui.AUTOBENCH_DAGS) <= dag_ids
        status, state = ui.api(url, token, "/autobench/api/state")
        assert status == 200 and state["ok"], state
        assert [r["system"] for r in state["gap_matrix"]["rows"]][:3] == ["CompetitorA", "CompetitorB", "OurSystem"]
        assert [d["hypothesis"] for d in state["decisions"]] == ["H-002", "H-001"]
        status, plugins = ui.api(url, token, "/api/v2/plugins")
        views = [v for p in plugins["plugins"] for v in p["external_views"] if p["name"] == "autobench"]
        assert views and views[0]["href"] == "autobench/", plugins

        # (b) a person's path: the login page, then the autobench page, the DAG list, a grid
        driver = ui.browser()
        ui.login(driver, url, password)
        got = ui.capture(driver, url, tmp_path / "shots", dag_ids=tuple(sorted(dag_ids)))

        page = got.texts["autobench_page"]
        for text in ("Gap matrix", "CompetitorA", "CompetitorB", "OurSystem", "BaselineLSTM",
                     "H-001", "H-002", "PASS", "FAIL", "PROMOTE", "REJECT", "improvement", "projection"):
            assert text in page, text
        assert "Plots are not available" not in page or not web.plots_available()
        assert got.iframe_src == f"{url}/autobench/"
        assert "CompetitorA" in got.texts["autobench_in_airflow"]
        assert all(dag in got.texts["dags"] for dag in dag_ids)
        assert "leaderboard_monitor" in got.texts["dag_grid"] and "scrape" in got.texts["dag_grid"]
        for name, png in got.pngs.items():
            data = png.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, (name, len(data))
        if web.plots_available():  # the browser loaded both plots (drawn from the monitor's snapshots)
            for name in web.PLOTS:
                status, _ = ui.api(url, token, f"/autobench/plots/{name}.png")
                assert status == 200, name
        assert snapshot(home) == before  # the page only reads
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
    assert server.proc.poll() is not None and server.health() is None


@pytest.mark.slow
def test_the_page_follows_airflow_under_a_base_path(tmp_path, ui):
    """Behind a proxy at /airflow (`[api] base_url`), the nav entry's iframe opens
    /airflow/autobench/, not /autobench/, and the page loads there."""
    home = ui.demo_home(tmp_path / "autobench_home")
    server = ui.Standalone(tmp_path / "airflow_home", home, base_path="/airflow").start()
    driver = None
    try:
        server.wait_healthy(timeout=300)
        url = server.url
        assert url.endswith("/airflow")
        token = ui.api_token(url, server.password())
        status, state = ui.api(url, token, "/autobench/api/state")
        assert status == 200 and state["ok"], state
        driver = ui.browser()
        ui.login(driver, url, server.password())
        src, text = ui.page_in_airflow(driver, url)
        assert src == f"{url}/autobench/"
        assert "Gap matrix" in text and "CompetitorA" in text
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
