"""The research ingest cycle: sources → screen → extract → research_log.md → hypotheses."""

from __future__ import annotations

import html as html_module
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import run_cli

from autobench.clock import parse_now
from autobench.research import paper_sources
from autobench.research.ingest import cycle, finish_cycle
from autobench.research.staging import fetch_source
from autobench.schemas import INGEST, QUEUE, REGISTRY, RESEARCH_CONFIG
from autobench.store import StateStore

MONDAY = parse_now("2026-01-05T07:00:00Z")
NEXT_MONDAY = parse_now("2026-01-12T07:00:00Z")
CLOSED = "http://127.0.0.1:9/api/query"  # nothing listens there: connection refused at once


def entry(arxiv_id: str, version: int, title: str, summary: str, updated: str) -> str:
    return f"""<entry>
<id>http://arxiv.org/abs/{arxiv_id}v{version}</id>
<updated>{updated}</updated><published>2026-01-01T00:00:00Z</published>
<title>{title}</title><summary>{summary}</summary>
<author><name>Test Author</name></author>
<link href="http://arxiv.org/abs/{arxiv_id}v{version}" rel="alternate" type="text/html"/>
<link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v{version}" rel="related" type="application/pdf"/>
<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG"/>
<category term="cs.LG"/>
</entry>"""


def feed(entries: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
            f'<title>arXiv Query</title><id>http://arxiv.org/api/x</id><updated>2026-01-05T00:00:00Z</updated>'
            f'<opensearch:totalResults>{len(entries)}</opensearch:totalResults>'
            f'<opensearch:startIndex>0</opensearch:startIndex><opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>'
            + "".join(entries) + "</feed>")


ROPE = entry("2601.00001", 1, "Rotary Position Embeddings for Associative Recall",
             "We replace learned positions with rotary position embeddings "
             "and improve MemoryBench accuracy by 1.2 points.",
             "2026-01-02T00:00:00Z")
VISION = entry("2601.00002", 1, "Vision Transformers for Satellite Imagery",
               "We classify land use from satellite images with a vision transformer.", "2026-01-03T00:00:00Z")
ROPE_V2 = entry("2601.00001", 2, "Rotary Position Embeddings for Associative Recall",
                "Revised. Rotary position embeddings improve MemoryBench accuracy by 1.4 points.",
                "2026-01-09T00:00:00Z")


class FakeArxiv:
    """An arXiv-compatible /api/query on loopback; `pages` is what it answers, week by week."""

    def __init__(self):
        self.body = feed([])
        self.queries: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.queries.append(parse_qs(urlparse(self.path).query))
                data = outer.body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/query"


@pytest.fixture
def arxiv_server(monkeypatch):
    fake = FakeArxiv()
    monkeypatch.setenv("AUTOBENCH_ARXIV_URL", fake.url)
    monkeypatch.setenv("AUTOBENCH_ARXIV_DELAY", "0")
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def offline(monkeypatch, store):
    monkeypatch.setenv("AUTOBENCH_ARXIV_URL", CLOSED)
    monkeypatch.setenv("AUTOBENCH_ARXIV_DELAY", "0")
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["arxiv"]["retries"] = 0
    return store


def hypotheses(store: StateStore) -> dict[str, dict]:
    return {h.id: h for h in store.load(QUEUE).hypotheses}


def test_the_example_closes_the_loop_offline(offline):
    store = offline
    result = cycle(store, MONDAY, "scheduled__2026-01-05T07:00:00+00:00")
    # the three arXiv queries fail with a clear message; the local demo feed goes through
    assert len(result["errors"]) == 3 and all("connection" in e["reason"] for e in result["errors"])
    assert {e["source"] for e in result["errors"]} == {
        f"arxiv: {q}" for q in store.load(RESEARCH_CONFIG).research_sources.arxiv_queries}
    assert result["papers_fetched"] == 3 and result["papers_new"] == 3 and len(result["relevant"]) == 2
    added = [hypotheses(store)[i] for i in result["hypotheses_added"]]
    patches = [h.implementation.config_patch for h in added]
    assert {"steps": 1400} in patches and {"lr": 0.005} in patches
    longer = next(h for h in added if h.implementation.config_patch == {"steps": 1400})
    assert longer.target_leaderboards == ["MemoryBench"] and longer.implementation.estimated_gain == 0.008
    assert longer.priority_score == pytest.approx(100 * 0.008 / 1)  # priority = 100 × gain / effort × urgency
    assert "gap analysis (gap to #1 on MemoryBench = 0.024)" in longer.source
    # the gap is 2.4 points: component ablations, never the one already queued (width 64)
    assert {"heads": 8} in patches and {"depth": 3} in patches and {"width": 64} not in patches
    log = (store.home / "research_log.md").read_text()
    assert '## [2026-01-05] Paper: "Train Longer, Recall More' in log
    assert "**Relevant leaderboard:** MemoryBench" in log
    assert "- longer training (effort: Low, impact: Low) ← PRIORITIZED" in log
    assert "- curriculum learning (effort: Low, impact: Low) — already in production" in log
    assert "already tried: H-001" in log  # the cosine schedule the second paper mentions
    assert "Protein" not in log  # irrelevant papers are screened out, not logged
    state = store.load(INGEST)
    # one watermark per source; the arXiv queries failed, so they have none yet
    assert state.watermark is None and set(state.watermarks) == {"feed: feeds/demo_papers.xml"}
    assert state.watermarks["feed: feeds/demo_papers.xml"].isoformat().startswith("2026-01-02") and len(state.seen) == 3


def test_a_rerun_and_the_next_week_write_nothing_twice(offline):
    store = offline
    first = cycle(store, MONDAY, "r1")
    log = (store.home / "research_log.md").read_text()
    queue = store.path(QUEUE).read_text()
    again = finish_cycle(store, MONDAY, "r1")  # a retried task of the same run
    # nothing added twice, but the run's own hypotheses are still reported (so the DAG announces them)
    assert again["hypotheses_added"] == first["hypotheses_added"] and again["papers_new"] == 0
    week2 = cycle(store, NEXT_MONDAY, "r2")
    assert week2["papers_new"] == 0 and week2["hypotheses_added"] == []
    assert (store.home / "research_log.md").read_text() == log and store.path(QUEUE).read_text() == queue
    assert first["hypotheses_added"]


def test_arxiv_papers_dedupe_across_weeks_and_new_versions_are_noted(arxiv_server, store):
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["arxiv_queries"] = ["associative recall"]
        doc["research_sources"]["local_feeds"] = []
    arxiv_server.body = feed([VISION, ROPE])
    week1 = cycle(store, MONDAY, "w1")
    assert week1["errors"] == [] and week1["relevant"] == ["2601.00001"] and week1["papers_new"] == 2
    rope = next(h for h in store.load(QUEUE).hypotheses
                if h.implementation.config_patch == {"positional_encoding": "rotary"})
    assert rope.source.startswith("arXiv:2601.00001") and rope.implementation.estimated_gain == 0.012
    assert arxiv_server.queries[0]["sortBy"] == ["lastUpdatedDate"]
    arxiv_server.body = feed([ROPE_V2, VISION, ROPE])
    week2 = cycle(store, NEXT_MONDAY, "w2")
    assert week2["new_versions"] == ["2601.00001v2"] and week2["papers_new"] == 0 and week2["hypotheses_added"] == []
    assert store.load(INGEST).seen["2601.00001"] == 2
    log = (store.home / "research_log.md").read_text()
    assert log.count("<!-- autobench: paper 2601.00001 -->") == 1


def test_an_error_answer_is_an_error_never_a_paper(arxiv_server, store):
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["arxiv_queries"] = ["q"]
        doc["research_sources"]["local_feeds"] = []
        doc["arxiv"]["retries"] = 0
    arxiv_server.body = "<html><body>Rate limited</body></html>"
    result = cycle(store, MONDAY, "e1")
    assert result["papers_fetched"] == 0 and len(result["errors"]) == 1
    assert result["errors"][0]["source"] == "arxiv: q"


def test_a_competitor_post_becomes_candidate_experiments(offline, tmp_path):
    store = offline
    post = store.home / "feeds" / "competitor.xml"
    post.write_text("""<?xml version="1.0"?><rss version="2.0"><channel><title>CompetitorA blog</title>
<item><title>How we got to #1 on MemoryBench</title><link>https://competitor-a.invalid/blog/1</link>
<pubDate>Sat, 03 Jan 2026 10:00:00 GMT</pubDate>
<description>Our recipe: dropout on attention and a larger batch size of 128.</description></item>
</channel></rss>""")
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["competitor_blogs"] = ["feeds/competitor.xml"]
    result = cycle(store, MONDAY, "c1")
    patches = [hypotheses(store)[i].implementation.config_patch for i in result["hypotheses_added"]]
    assert {"dropout": 0.1} in patches and {"batch_size": 128} in patches
    log = (store.home / "research_log.md").read_text()
    assert 'Competitor post: "How we got to #1 on MemoryBench"' in log
    h = next(hypotheses(store)[i] for i in result["hypotheses_added"]
             if hypotheses(store)[i].implementation.config_patch == {"dropout": 0.1})
    assert h.source.startswith("competitor post https://competitor-a.invalid/blog/1")


def test_gap_strategy_fine_search_and_escalation(offline):
    store = offline
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["local_feeds"] = []
    with store.edit(REGISTRY) as doc:  # gap to #1 on MemoryBench: 0.5 points; LongContextEval: 7 points
        doc["competitors"][0]["latest_score"] = 0.828
        doc["competitors"].append({"name": "Giant", "latest_score": 0.861, "source": "LongContextEval"})
    result = cycle(store, MONDAY, "g1")
    added = [hypotheses(store)[i] for i in result["hypotheses_added"]]
    assert {tuple(h.implementation.config_patch.items()) for h in added} == {
        (("lr", 0.005),), (("lr", 0.002),), (("weight_decay", 0.01),)}
    assert all(h.target_leaderboards == ["MemoryBench"] for h in added)
    assert result["gap_notes"] and "LongContextEval" in result["gap_notes"][0] and "> 5" in result["gap_notes"][0]


def test_ingest_and_extract_commands(offline, tmp_path):
    store = offline
    proc = run_cli("ingest", "--json", "--now", "2026-01-05T07:00:00Z", home=store.home,
                   env={"AUTOBENCH_ARXIV_URL": CLOSED, "AUTOBENCH_ARXIV_DELAY": "0"}, check=True)
    out = json.loads(proc.stdout)
    assert set(out) >= {"papers_fetched", "papers_new", "relevant", "techniques", "hypotheses_added", "errors"}
    abstract = tmp_path / "a.txt"
    abstract.write_text("Rotary position embeddings and a cosine learning-rate schedule with linear warmup "
                        "improve accuracy on MemoryBench by 4.2%.")
    proc = run_cli("extract", str(abstract), "--json", home=store.home, check=True)
    out = json.loads(proc.stdout)
    names = {t["name"] for t in out["techniques"]}
    assert {"rotary position embeddings", "cosine lr schedule with warmup"} <= names
    assert (out["reported_gains"][0]["gain"] == pytest.approx(0.042)
            and out["reported_gains"][0]["leaderboard"] == "MemoryBench")
    assert {"name", "category", "effort", "impact", "config_patch", "evidence"} <= set(out["techniques"][0])
    proc = run_cli("extract", str(tmp_path / "missing.txt"), home=store.home)
    assert proc.returncode == 1 and "cannot read" in proc.stderr


def test_papers_command_against_a_loopback_arxiv(arxiv_server):
    arxiv_server.body = feed([ROPE, VISION])
    proc = run_cli("papers", "--query", "recall", "--max", "5", "--json",
                   env={"AUTOBENCH_ARXIV_URL": arxiv_server.url, "AUTOBENCH_ARXIV_DELAY": "0"}, check=True)
    papers = json.loads(proc.stdout)
    assert [p["id"] for p in papers] == ["2601.00001", "2601.00002"]
    assert set(papers[0]) >= {"id", "version", "title", "summary", "authors", "published", "updated", "categories",
                              "comment", "journal_ref", "pdf_url"}


def llm_answering(techniques: list[dict], asked: list | None = None) -> type[BaseHTTPRequestHandler]:
    """An OpenAI-compatible chat endpoint (a handler for a loopback server) that answers every
    request with ``techniques``; the requests go to ``asked``."""

    class Stub(BaseHTTPRequestHandler):
        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if asked is not None:
                asked.append(request)
            content = json.dumps({"techniques": techniques})
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Stub


def test_source_specs_follow_the_config(store):
    specs = paper_sources.specs(store.load(RESEARCH_CONFIG))
    assert [s.kind for s in specs] == ["arxiv", "arxiv", "arxiv", "feed"]
    staged = fetch_source(store, specs[-1], MONDAY, "s1")
    assert staged["papers"] == 3 and staged["error"] is None


def test_the_optional_llm_extractor_adds_what_the_patterns_miss(offline, monkeypatch):
    """Off by default; switched on, an OpenAI-compatible endpoint (a loopback stub) is asked too."""
    store = offline
    asked: list[dict] = []

    Stub = llm_answering([{"name": "gradient clipping", "category": "training", "effort": "Low", "impact": "Low",
                           "config_patch": {}, "evidence": "we clip gradients at 1.0"}], asked)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cycle(store, MONDAY, "llm-off")
        assert asked == []  # off by default
        with store.edit(RESEARCH_CONFIG) as doc:
            doc["llm_extractor"] = {"enabled": True, "model": "stub-model"}
        (store.home / "state" / "ingest.json").unlink()  # read the demo papers again
        monkeypatch.setenv("AUTOBENCH_LLM_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        (store.home / "research_log.md").unlink()
        cycle(store, NEXT_MONDAY, "llm-on")
        assert len(asked) == 2  # one request per relevant paper
        assert ("- gradient clipping (effort: Low, impact: Low) — not applicable"
                in (store.home / "research_log.md").read_text())
        monkeypatch.delenv("AUTOBENCH_LLM_URL")
        with pytest.raises(Exception, match="AUTOBENCH_LLM_URL is not set"):
            cycle(store, NEXT_MONDAY, "llm-missing")
    finally:
        server.shutdown()
        server.server_close()


def test_a_waiting_hypothesis_production_already_has_is_superseded(offline):
    store = offline
    with store.edit(REGISTRY) as doc:
        doc["our_solution"]["config"]["width"] = 64  # changed by hand: H-002's patch is now moot
    cycle(store, MONDAY, "s1")
    h = hypotheses(store)["H-002"]
    assert h.status == "superseded" and "already has its patch" in h.notes[-1]


def test_an_on_topic_paper_from_a_watched_venue_is_relevant_and_its_venue_logged(arxiv_server, store):
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["arxiv_queries"] = ["memory"]
        doc["research_sources"]["local_feeds"] = []
    on_topic = entry("2601.00003", 1, "Associative memory and long-context recall in small transformers",
                     "We study associative recall and memory in transformers with a deeper model.",
                     "2026-01-02T00:00:00Z").replace(
        "<category term=\"cs.LG\"/>", "<category term=\"cs.LG\"/><arxiv:comment xmlns:arxiv=\"http://arxiv.org/schemas/atom\">"
        "Accepted at ICLR 2026</arxiv:comment>")
    arxiv_server.body = feed([on_topic])
    result = cycle(store, MONDAY, "v1")
    assert result["relevant"] == ["2601.00003"]
    assert "**Venue:** ICLR 2026" in (store.home / "research_log.md").read_text()


# ----------------------------------------------------------------------------- per-source watermarks

WEEK0 = parse_now("2025-12-29T07:00:00Z")
A_OLD = entry("2512.00001", 1, "Sparse attention for sequence models", "A study.", "2025-12-27T00:00:00Z")
B_OLD = entry("2512.00002", 1, "Tokenizers for proteins", "A study.", "2025-12-28T00:00:00Z")
A_NEW = entry("2601.00011", 1, "Mixture of experts in small models", "A study.", "2026-01-04T00:00:00Z")
B_NEW = entry("2601.00012", 1, "State space models for long inputs", "A study.", "2026-01-03T00:00:00Z")


def local_feeds(store: StateStore, feeds: dict[str, list[str] | None]) -> None:
    """The config reads exactly these local feeds (no arXiv); None: the file is missing."""
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["arxiv_queries"] = []
        doc["research_sources"]["local_feeds"] = [f"feeds/{name}.xml" for name in feeds]
    for name, entries in feeds.items():
        path = store.home / "feeds" / f"{name}.xml"
        if entries is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(feed(entries), encoding="utf-8")


def test_a_source_that_failed_catches_up_from_its_own_watermark(store):
    local_feeds(store, {"a": [A_OLD], "b": [B_OLD]})
    assert cycle(store, WEEK0, "w0")["errors"] == []
    local_feeds(store, {"a": [A_NEW, A_OLD], "b": None})  # week 1: feed b is down; a has a paper of Jan 4
    week1 = cycle(store, MONDAY, "w1")
    assert [e["source"] for e in week1["errors"]] == ["feed: feeds/b.xml"] and week1["papers_new"] == 1
    marks = {name: mark.isoformat()[:10] for name, mark in store.load(INGEST).watermarks.items()}
    local_feeds(store, {"a": [A_NEW, A_OLD], "b": [B_NEW, B_OLD]})  # week 2: b is back with its paper of Jan 3
    week2 = cycle(store, NEXT_MONDAY, "w2")
    assert week2["errors"] == [] and week2["papers_new"] == 1 and "2601.00012" in store.load(INGEST).seen
    # after week 1, b's watermark had not been moved by a's success
    assert marks == {"feed: feeds/a.xml": "2026-01-04", "feed: feeds/b.xml": "2025-12-28"}


def test_a_future_dated_item_does_not_stop_later_papers(store):
    future = entry("2601.00099", 1, "A paper from the future", "A study.", "2099-01-01T00:00:00Z")
    local_feeds(store, {"a": [future, A_OLD]})
    assert cycle(store, MONDAY, "f1")["papers_new"] == 2
    marks = dict(store.load(INGEST).watermarks)
    local_feeds(store, {"a": [future, A_NEW.replace("2026-01-04", "2026-01-08"), A_OLD]})
    week2 = cycle(store, NEXT_MONDAY, "f2")
    assert week2["papers_new"] == 1 and "2601.00011" in store.load(INGEST).seen  # the 2099 item is not new again
    # the watermark never passes the run's time
    assert marks == {"feed: feeds/a.xml": MONDAY}
    assert store.load(INGEST).watermarks == {"feed: feeds/a.xml": NEXT_MONDAY}


def test_an_old_state_file_with_one_watermark_loads_and_is_migrated(store):
    before = entry("2512.00003", 1, "Dropout revisited", "A study.", "2025-12-31T00:00:00Z")
    (store.home / "state").mkdir(exist_ok=True)
    (store.home / "state" / "ingest.json").write_text(json.dumps(
        {"watermark": "2026-01-01T00:00:00Z", "seen": {"2512.00001": 1}, "last_run_id": "old"}))
    state = store.load(INGEST)
    assert state.watermark.isoformat().startswith("2026-01-01") and state.watermarks == {}
    local_feeds(store, {"a": [A_NEW, before, A_OLD], "b": None})
    week1 = cycle(store, MONDAY, "m1")
    assert week1["papers_new"] == 1 and "2601.00011" in store.load(INGEST).seen  # the old watermark applied
    raw = json.loads((store.home / "state" / "ingest.json").read_text())
    assert raw.get("watermark") is None and raw["watermarks"] == {  # migrated: b failed, so it starts where all were
        "feed: feeds/a.xml": "2026-01-04T00:00:00Z", "feed: feeds/b.xml": "2026-01-01T00:00:00Z"}
    local_feeds(store, {"a": [A_NEW, before, A_OLD], "b": [B_NEW, B_OLD]})
    week2 = cycle(store, NEXT_MONDAY, "m2")
    assert week2["papers_new"] == 1 and "2601.00012" in store.load(INGEST).seen


# ----------------------------------------------------------------------------- escaping


def test_web_and_llm_text_is_escaped_in_the_research_log(arxiv_server, store, monkeypatch):
    markdown_it = pytest.importorskip("markdown_it")
    hostile_title = "[click me](https://evil.example) # x *y*"
    hostile_venue = "[NeurIPS](https://evil.example) *Workshop* 2026"
    hostile_technique = "# pwn [here](https://evil.example) <img src=x> *z*"
    hostile_url = "https://example.invalid/p --> [click](https://evil.example) <b>x</b>"
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["arxiv_queries"] = ["memory"]
        doc["research_sources"]["venues"] = [hostile_venue]
        doc["research_sources"]["local_feeds"] = []
        doc["research_sources"]["competitor_blogs"] = ["feeds/competitor.xml"]
        doc["llm_extractor"] = {"enabled": True, "model": "stub-model"}
    arxiv_server.body = feed([entry("2601.00007", 1, hostile_title,
                                    "We study associative recall and improve MemoryBench accuracy by 1.2 points.",
                                    "2026-01-02T00:00:00Z").replace(
        "<category term=\"cs.LG\"/>", "<category term=\"cs.LG\"/><arxiv:comment xmlns:arxiv=\"http://arxiv.org/schemas/atom\">"
        "Accepted at [NeurIPS](https://evil.example) *Workshop* 2026</arxiv:comment>")])
    (store.home / "feeds" / "competitor.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>blog</title>'
        "<item><title>How we won MemoryBench</title>"
        "<link>https://example.invalid/p --&gt; [click](https://evil.example) &lt;b&gt;x&lt;/b&gt;</link>"
        "<pubDate>Sat, 03 Jan 2026 10:00:00 GMT</pubDate><description>Dropout on attention.</description></item>"
        "</channel></rss>", encoding="utf-8")

    Stub = llm_answering([{"name": hostile_technique, "category": "training", "effort": "Low", "impact": "Low",
                           "config_patch": {"dropout": 0.3}, "evidence": "we improve MemoryBench"}])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AUTOBENCH_LLM_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        result = cycle(store, MONDAY, "x1")
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(result["relevant"]) == sorted(["2601.00007", "url:" + hostile_url])
    log = (store.home / "research_log.md").read_text(encoding="utf-8")
    html = markdown_it.MarkdownIt("commonmark").render(log)
    assert "evil.example\"" not in html and "<img" not in html and "<b>" not in html and "<em>" not in html
    assert html.count("<h1>") == 1 and html.count("<h2>") == 2  # ours: the log's title and one per entry
    assert [line for line in log.splitlines() if line.startswith("#")] == [
        "# Research log", *[line for line in log.splitlines() if line.startswith("## [2026-01-05] ")]]
    shown = html_module.unescape(re.sub(r"<[^>]+>", "", html))
    # shown as written: the title, the venue, the technique (also in the action), the post's URL
    assert hostile_title in shown and hostile_venue in shown and hostile_technique in shown
    assert hostile_technique.lower() in shown and hostile_url in shown
    marker = next(line for line in log.splitlines() if line.startswith("<!-- autobench: paper url:"))
    assert marker.count("-->") == 1 and marker.endswith(" -->")  # the URL cannot close the comment early
    # our own structure is intact, and a plain URL stays a usable link
    assert "<strong>Venue:</strong>" in html and "<strong>Source:</strong> arXiv:2601.00007" in html
    assert _md_link_html("https://example.invalid/ok?a=1&b=2") == \
        '<a href="https://example.invalid/ok?a=1&amp;b=2">https://example.invalid/ok?a=1&amp;b=2</a>'


def _md_link_html(url: str) -> str:
    import markdown_it

    from autobench.research.research_log import md_link

    return markdown_it.MarkdownIt("commonmark").renderInline(md_link(url))


# ----------------------------------------------------------------------------- a retried finish_cycle


def test_a_retried_ingest_reports_the_hypotheses_its_crashed_attempt_added(offline, monkeypatch):
    store = offline
    original = {h.id for h in store.load(QUEUE).hypotheses}
    real_edit = store.edit
    crashes: list[str] = []

    def edit(name):
        if name == INGEST and not crashes:  # killed after the queue was written, before the state
            crashes.append(name)
            raise OSError("worker killed")
        return real_edit(name)

    monkeypatch.setattr(store, "edit", edit)
    with pytest.raises(OSError, match="worker killed"):
        cycle(store, MONDAY, "scheduled__2026-01-05")
    queue_after_crash = store.path(QUEUE).read_text()
    added = [h.id for h in store.load(QUEUE).hypotheses if h.id not in original]
    assert added and not (store.home / "state" / "ingest.json").exists()
    retry = finish_cycle(store, MONDAY, "scheduled__2026-01-05")
    assert sorted(retry["hypotheses_added"]) == sorted(added)
    assert store.path(QUEUE).read_text() == queue_after_crash  # nothing added twice
    patches = [json.dumps(h.implementation.config_patch, sort_keys=True) for h in store.load(QUEUE).hypotheses]
    assert len(patches) == len(set(patches))
    assert store.load(INGEST).last_run_id == "scheduled__2026-01-05"
    # another run adds nothing and reports nothing
    assert finish_cycle(store, NEXT_MONDAY, "scheduled__2026-01-12")["hypotheses_added"] == []


# ----------------------------------------------------------------------------- a kind of source of one's own


def test_a_paper_source_registered_at_runtime_is_fetched_staged_and_ingested(offline):
    """A new kind of source is one class and one registration: the ingest lists it from the
    config, stages what it fetches under its own watermark, and screens its papers like any."""
    import datetime as dt

    from autobench.research.paper_sources import Paper, PaperSource

    asked: list = []

    class Bulletin(PaperSource):  # one paper per watched venue, as a venue's bulletin would list it
        def __init__(self, venue: str):
            self.venue, self.name = venue, f"bulletin:{venue}"

        @classmethod
        def configured(cls, config):
            return [(f"bulletin: {v}", v) for v in config.research_sources.venues]

        @classmethod
        def from_config(cls, target, config, *, home=None, now=None, api_key=None):
            return cls(target)

        def fetch(self, since=None):
            asked.append((self.venue, since))
            when = dt.datetime(2026, 1, 4, tzinfo=dt.UTC)
            return [Paper(id="url:https://bulletin.example/1", version=None, authors=("A",), published=when,
                          updated=when, url="https://bulletin.example/1", source=self.name,
                          title="Rotary position embeddings on MemoryBench",
                          summary="Rotary position embeddings improve MemoryBench accuracy by 1.1 points.")]

    store = offline
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["venues"] = ["RecallConf 2026"]
    paper_sources.REGISTRY.register("bulletin", Bulletin)
    try:
        assert paper_sources.specs(store.load(RESEARCH_CONFIG))[-1].as_dict() == {
            "kind": "bulletin", "name": "bulletin: RecallConf 2026", "target": "RecallConf 2026"}
        result = cycle(store, MONDAY, "b1")
        assert "url:https://bulletin.example/1" in result["relevant"]
        assert store.load(INGEST).watermarks["bulletin: RecallConf 2026"].isoformat().startswith("2026-01-04")
        assert "Rotary position embeddings on MemoryBench" in (store.home / "research_log.md").read_text()
        cycle(store, NEXT_MONDAY, "b2")  # next week it reads from its own watermark
        assert asked[0] == ("RecallConf 2026", None) and asked[1][1].isoformat().startswith("2026-01-04")
    finally:
        paper_sources.REGISTRY.unregister("bulletin")
