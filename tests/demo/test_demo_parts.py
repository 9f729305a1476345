"""The demo's parts on their own: the calendar, the loopback site by day, the arXiv answer the
`arxiv` package pages through, the fake Slack's text, the trigger details a replayed run reads,
and a work folder the demo refuses to wipe."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from autobench import orchestration
from autobench.home import init
from demo.fake_slack import as_text
from demo.site import DemoSite


@pytest.fixture
def week_home(tmp_path):
    home = tmp_path / "home"
    init(home, "week")
    return home


def get(url: str, headers: dict | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def test_the_calendar_is_two_mondays_with_the_weekly_runs_on_mondays():
    from demo.week import calendar

    runs = calendar()
    assert len(runs) == 8 * 2 + 2 * 2
    assert runs[0] == (dt.datetime(2026, 1, 5, 6, tzinfo=dt.UTC), "leaderboard_monitor")
    assert runs[-1] == (dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC), "weekly_digest")
    mondays = [(w.date(), d) for w, d in runs if d in ("research_ingest", "weekly_digest")]
    assert {day for day, _ in mondays} == {dt.date(2026, 1, 5), dt.date(2026, 1, 12)}
    assert [d for w, d in runs if w.date() == dt.date(2026, 1, 5)] == [
        "leaderboard_monitor", "research_ingest", "experiment_sweep", "weekly_digest"]
    assert runs == sorted(runs)


def test_the_site_serves_each_day_its_pages_with_etags(week_home):
    site = DemoSite(week_home)
    try:
        status, _, _ = get(f"{site.url}/memorybench.html")
        assert status == 404  # no day set yet
        site.day = "2026-01-06"
        status, body, headers = get(f"{site.url}/memorybench.html")
        assert status == 200 and b"CompetitorB" in body and headers["Content-Type"].startswith("text/html")
        etag = headers["ETag"]
        status, body, _ = get(f"{site.url}/memorybench.html", {"If-None-Match": etag})
        assert status == 304 and body == b""
        site.day = "2026-01-07"  # CompetitorB overtakes us: a new page, a new ETag
        status, body, headers = get(f"{site.url}/memorybench.html", {"If-None-Match": etag})
        assert status == 200 and headers["ETag"] != etag and b"0.989" in body
        status, _, headers = get(f"{site.url}/longcontexteval.json")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        for bad in ("/nothing.html", "/../competitive_registry.yaml", "/2026-01-05/memorybench.html"):
            assert get(site.url + bad)[0] == 404, bad
        assert [r["status"] for r in site.requests][:3] == [404, 200, 304]
    finally:
        site.close()


def test_the_arxiv_api_answers_the_arxiv_package_and_its_paging_ends(week_home):
    import arxiv

    site = DemoSite(week_home)
    try:
        client = arxiv.Client(page_size=2, delay_seconds=0, num_retries=0)
        client.query_url_format = f"{site.url}/api/query?{{}}"
        papers = list(client.results(arxiv.Search(query="associative recall transformer", max_results=10)))
        assert [p.get_short_id() for p in papers] == ["2601.00417v1", "2601.00122v1", "2512.31876v1"]
        assert sum(r["path"] == "/api/query" for r in site.requests) == 2  # two pages of two, then done
    finally:
        site.close()


def test_the_fake_slack_shows_a_message_as_text():
    body = {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Benchmark Digest"}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": "*MemoryBench*: #1"},
                        "fields": [{"type": "mrkdwn", "text": "gap +0.006"}]},
                       {"type": "divider"},
                       {"type": "context", "elements": [{"type": "mrkdwn", "text": "4 experiments"}]},
                       {"type": "image", "image_url": "http://x/p.png", "alt_text": "gap over time"}]}
    assert as_text(body).splitlines() == ["Benchmark Digest", "================", "*MemoryBench*: #1", "  gap +0.006",
                                          "-" * 40, "4 experiments", "[image: gap over time]"]
    assert as_text({"text": "plain"}) == "plain"


def test_a_replayed_run_reads_the_trigger_from_its_conf_and_a_scheduled_one_from_its_events():
    from autobench_airflow.triggers import triggered_by

    assert orchestration.conf_key(orchestration.ASSET_URGENT) == "urgent"
    assert orchestration.conf_key("autobench://gap-widened/") == "gap_widened"
    urgent = {"leaderboard": "MemoryBench", "reason": "rank_dropped"}
    replayed = {"dag_run": SimpleNamespace(conf={"urgent": urgent, "hypothesis": None})}
    assert triggered_by(replayed) == [{"asset": "autobench://urgent", "extra": urgent, "source": "conf"}]
    # one wording for the sweep's log and the demo's summary
    assert orchestration.event_details(urgent) == "MemoryBench, rank_dropped"
    assert orchestration.event_details({"hypotheses": ["H-004", "H-005"], "other": 1}) == "H-004, H-005"
    assert orchestration.event_details(None) == "" and orchestration.event_details({"reason": ""}) == ""

    event = SimpleNamespace(asset=SimpleNamespace(uri="autobench://urgent/"), extra=urgent,
                            source_dag_id="leaderboard_monitor", source_run_id="scheduled__2026-01-07T06:00:00+00:00")
    accessor = {"urgent-asset": [event]}  # TriggeringAssetEventsAccessor: a Mapping asset -> events
    scheduled = {"triggering_asset_events": accessor, "dag_run": SimpleNamespace(conf={})}
    assert triggered_by(scheduled) == [{"asset": "autobench://urgent", "extra": urgent,
                                        "source": "leaderboard_monitor/scheduled__2026-01-07T06:00:00+00:00"}]
    assert triggered_by({"dag_run": SimpleNamespace(conf={})}) == []
    assert triggered_by({"dag_run": SimpleNamespace(conf={"urgent": "not a mapping"})}) == []


def test_the_demo_never_wipes_a_folder_it_did_not_make(tmp_path):
    from demo.week import MARKER, Week

    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not a previous demo's folder"):
        Week(precious).prepare()
    assert (precious / "notes.txt").read_text() == "keep me"
    assert not (precious / MARKER).exists()
