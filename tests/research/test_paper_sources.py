"""Paper sources (arXiv API, RSS/Atom feeds, Semantic Scholar citations) against loopback servers.

The arXiv files are other people's (see /work/shared/realdata/MANIFEST.md, sections 3 and 3b):
they are read from there at test time, never copied into this repository, and the tests that
need them are skipped when they are absent. Every expected id, title, author, date and count
below was checked by hand against the XML (``grep``/reading the entries in order).

A ``ThreadingHTTPServer`` on 127.0.0.1 stands in for arXiv's API at ``/api/query`` (the recorded
answer is chosen by ``id_list`` or by ``start``/``max_results``, so paging is exercised), for
misbehaving APIs (HTTP 400, arXiv's error entry, HTML, a slow server, a 503 then 200), for feeds
and for the Semantic Scholar Graph API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import SHARED, loopback

from autobench.research.paper_sources import (
    REGISTRY,
    Paper,
    PaperSource,
    SourceError,
    SourceSpec,
    build,
    matches_venue,
    names,
    sources_from_config,
    specs,
    split_arxiv_id,
)
from autobench.research.paper_sources.arxiv_api import ArxivSource
from autobench.research.paper_sources.feed import CompetitorFeedSource, FeedSource
from autobench.research.paper_sources.semantic_scholar import CitationSource, api_key_from_env

REALDATA = SHARED / "realdata"
ATOM_DIR = REALDATA / "arxiv_atom"
RSS_FILE = REALDATA / "arxiv_rss" / "rss_arxiv_org_atom_cs.AI_2025-08-20_zotero-arxiv-daily.xml"
LEGACY_FILE = ATOM_DIR / "arxivpy_legacy2016_au_del_maestro_AND_ti_quantum_criticality.xml"
MANUAL = ATOM_DIR / "arxiv-docs_api_user-manual.md"

needs_atom = pytest.mark.skipif(not ATOM_DIR.is_dir(),
                                reason=f"the real arXiv API captures are not here ({ATOM_DIR} is absent)")
needs_rss = pytest.mark.skipif(not RSS_FILE.is_file(),
                               reason=f"the real arXiv RSS capture is not here ({RSS_FILE} is absent)")

BY_ID = {
    "0000.0000": "arxivpy_id_0000.0000_s0_m100_8b51d9633a68.xml",
    "1605.08386": "arxivpy_id_1605.08386_s0_m100_199195aa31ad.xml",
    "2104.12255v1": "arxivpy_id_2104.12255v1_s0_m100_6ae69987ffe1.xml",
}
BY_PAGE = {
    ("0", "10"): "arxivpy_q_testing_s0_m10_bc5a6c384fe9.xml",
    ("10", "10"): "arxivpy_q_testing_s10_m10_34e56e15aaac.xml",
    ("20", "10"): "arxivpy_q_testing_s20_m10_348a237fecab.xml",
    ("0", "100"): "arxivpy_q_testing_s0_m100_cfe7536492ca.xml",
}


def manual_error_feed() -> bytes:
    """The error answer printed in the arXiv API user manual (§3.4), as bytes."""
    text = MANUAL.read_text(encoding="utf-8")
    section = text[text.index("### 3.4. Errors"):]
    start = section.index("    <?xml")
    end = section.index("    </feed>", start) + len("    </feed>")
    return textwrap.dedent(section[start:end]).encode()


# --- the loopback server -----------------------------------------------------------------------

RSS2_BLOG = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>Rival Lab blog</title>
    <link>https://rival.example.com/blog</link>
    <lastBuildDate>Wed, 04 Feb 2026 12:00:00 +0000</lastBuildDate>
    <item>
      <title>How we reached 91.2 on RecallBench</title>
      <link>https://rival.example.com/blog/recallbench-91</link>
      <guid isPermaLink="true">https://rival.example.com/blog/recallbench-91</guid>
      <description>&lt;p&gt;Hard negatives &amp;amp; a &lt;b&gt;bigger&lt;/b&gt; re-ranker.&lt;/p&gt;&lt;p&gt;Code soon.&lt;/p&gt;</description>
      <pubDate>Tue, 03 Feb 2026 09:30:00 -0500</pubDate>
      <dc:creator>Lovelace, Ada</dc:creator>
      <dc:creator>Alan Turing</dc:creator>
      <category>retrieval</category>
      <category>benchmarks</category>
    </item>
    <item>
      <title>Our ICLR paper</title>
      <link>https://arxiv.org/abs/2601.00001v2</link>
      <description>Accepted at ICLR 2026, see the paper.</description>
      <pubDate>Mon, 02 Feb 2026 08:00:00 GMT</pubDate>
      <author>grace@rival.example.com (Grace Hopper)</author>
    </item>
    <item>
      <title>Replacement: dense retrieval at scale</title>
      <link>https://arxiv.org/abs/2602.01234</link>
      <description>arXiv:2602.01234v3 Announce Type: replace-cross
Abstract: We scale dense retrieval with $x&lt;y$ and $z&gt;w$.</description>
      <guid isPermaLink="false">oai:arXiv.org:2602.01234v3</guid>
      <category>cs.IR</category>
      <category>cs.LG</category>
      <pubDate>Fri, 30 Jan 2026 00:00:00 -0500</pubDate>
      <arxiv:announce_type>replace-cross</arxiv:announce_type>
      <arxiv:DOI>10.1234/dense.2026</arxiv:DOI>
      <arxiv:journal_reference>ICLR'26</arxiv:journal_reference>
      <dc:creator>Jane Doe, John Smith, Ada Lovelace</dc:creator>
    </item>
    <item>
      <title>A note with no link and no date</title>
      <guid isPermaLink="false">rival-note-17</guid>
      <description>Nothing here.</description>
    </item>
  </channel>
</rss>
"""  # noqa: E501

ATOM_BLOG = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Competitor research</title>
  <id>tag:competitor.example.org,2026:blog</id>
  <updated>2026-02-05T10:00:00+01:00</updated>
  <entry>
    <title type="html">Scaling &lt;em&gt;recall&lt;/em&gt; to 1B documents</title>
    <id>tag:competitor.example.org,2026:post-42</id>
    <link rel="alternate" type="text/html" href="https://competitor.example.org/posts/42"/>
    <link rel="enclosure" type="application/pdf" href="https://competitor.example.org/posts/42.pdf"/>
    <published>2026-02-05T09:00:00+01:00</published>
    <updated>2026-02-05T10:00:00+01:00</updated>
    <author><name>Grace Hopper</name></author>
    <author><name>Edsger Dijkstra</name></author>
    <category term="retrieval"/>
    <summary type="html">&lt;p&gt;We shard the &lt;a href="x"&gt;index&lt;/a&gt;.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <title>Older post</title>
    <id>tag:competitor.example.org,2026:post-41</id>
    <link href="https://competitor.example.org/posts/41"/>
    <updated>2026-01-10T08:00:00Z</updated>
    <content type="html">&lt;p&gt;Text&amp;nbsp;with an entity.&lt;/p&gt;</content>
  </entry>
</feed>
"""

HTML_PAGE = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body><h1>Oops</h1></body></html>"


def _citing(n: int) -> dict[str, Any]:
    """Semantic Scholar's citingPaper objects, of several shapes (see CitationSource)."""
    papers: list[dict[str, Any]] = [
        {"paperId": "aaa1", "externalIds": {"ArXiv": "2601.00010", "DOI": "10.1/aaa", "CorpusId": 11},
         "title": "Citing  paper one", "abstract": "It cites us.", "publicationDate": "2026-01-15", "year": 2026,
         "authors": [{"authorId": "1", "name": "Ada Lovelace"}, {"authorId": "2", "name": "Alan Turing"}],
         "venue": "International Conference on Learning Representations", "url": "https://www.semanticscholar.org/paper/aaa1"},
        {"paperId": "bbb2", "externalIds": {"DOI": "10.1/bbb", "CorpusId": 12}, "title": "Citing paper two",
         "abstract": None, "publicationDate": None, "year": 2025, "authors": [], "venue": "NeurIPS",
         "url": "https://www.semanticscholar.org/paper/bbb2"},
        {"paperId": "ccc3", "externalIds": {"CorpusId": 13}, "title": "Citing paper three", "abstract": "x",
         "publicationDate": "2025-11-02", "year": 2025, "authors": [{"authorId": None, "name": "Grace Hopper"}],
         "venue": "", "url": None},
        {"paperId": None, "externalIds": None, "title": None, "abstract": None, "publicationDate": None,
         "year": None, "authors": [], "venue": None, "url": None},  # S2 sends these: skipped
        {"paperId": "eee5", "externalIds": {"ArXiv": "2512.09999"}, "title": "Citing paper five",
         "abstract": "y", "publicationDate": "2025-12-24", "year": 2025, "authors": [], "venue": "arXiv.org",
         "url": "https://www.semanticscholar.org/paper/eee5"},
    ]
    return papers[n]


class Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, ctype: str = "application/atom+xml; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        state = self.server.state
        with state["lock"]:
            state["log"].append((parts.path, q, dict(self.headers)))
            state["hits"][parts.path] = hits = state["hits"].get(parts.path, 0) + 1
        path = parts.path
        try:
            if path.endswith("/api/query"):
                self.arxiv(path.removesuffix("/api/query"), q, hits)
            elif path == "/rss/cs.AI":
                self.send(200, RSS_FILE.read_bytes())
            elif path == "/blog/rss.xml":
                self.send(200, RSS2_BLOG, "application/rss+xml")
            elif path == "/blog/atom.xml":
                self.send(200, ATOM_BLOG)
            elif path == "/blog/html":
                self.send(200, HTML_PAGE, "text/html")
            elif path.startswith(("/s2/", "/s2-429/")):
                self.s2(path, q, hits)
            else:
                self.send(404, b"not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def arxiv(self, mode: str, q: dict[str, str], hits: int) -> None:
        if mode == "/bad400":
            self.send(400, manual_error_feed())
        elif mode == "/errorentry":
            self.send(200, manual_error_feed())
        elif mode == "/html":
            self.send(200, HTML_PAGE, "text/html")
        elif mode == "/truncated":
            body = (ATOM_DIR / BY_PAGE[("0", "10")]).read_bytes()
            self.send(200, body[: len(body) * 2 // 3])
        elif mode == "/slow":
            time.sleep(1.0)
            self.send(200, (ATOM_DIR / BY_ID["1605.08386"]).read_bytes())
        elif mode == "/flaky" and hits == 1:
            self.send(503, b"busy", "text/plain", {"Retry-After": "0"})
        elif mode == "/legacy":
            self.send(200, LEGACY_FILE.read_bytes())
        elif q.get("id_list"):
            name = BY_ID.get(q["id_list"])
            self.send(200, (ATOM_DIR / name).read_bytes()) if name else self.send(404, b"no", "text/plain")
        else:
            name = BY_PAGE.get((q.get("start", ""), q.get("max_results", "")))
            self.send(200, (ATOM_DIR / name).read_bytes()) if name else self.send(404, b"no", "text/plain")

    def s2(self, path: str, q: dict[str, str], hits: int) -> None:
        if path.startswith("/s2-429/") and hits == 1:
            self.send(429, b'{"message": "Too Many Requests"}', "application/json", {"Retry-After": "0"})
            return
        pid = path.split("/paper/", 1)[1].removesuffix("/citations")
        if pid not in ("arXiv:2104.12255", "DOI:10.18653/v1/N18-3011"):
            self.send(404, json.dumps({"error": f"Paper with id {pid} not found"}).encode(), "application/json")
            return
        offset, limit = int(q["offset"]), int(q["limit"])
        total = 5 if pid.startswith("arXiv") else 2
        data = [{"citingPaper": _citing(i)} for i in range(offset, min(offset + limit, total))]
        page: dict[str, Any] = {"offset": offset, "data": data}
        if offset + limit < total:
            page["next"] = offset + limit
        self.send(200, json.dumps(page).encode(), "application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with loopback(Handler) as httpd:
        httpd.state = {"lock": threading.Lock(), "log": [], "hits": {}}
        yield httpd


@pytest.fixture
def srv(server: Any) -> Any:
    """The server with an empty request log; ``srv.base`` is its address."""
    with server.state["lock"]:
        server.state["log"].clear()
        server.state["hits"].clear()
    return server


def requests_to(srv: Any, suffix: str) -> list[dict[str, str]]:
    return [q for path, q, _ in srv.state["log"] if path.endswith(suffix)]


def arxiv(srv: Any, mode: str = "", **kw: Any) -> ArxivSource:
    kw.setdefault("delay_seconds", 0)
    kw.setdefault("backoff_seconds", 0.01)
    return ArxivSource(kw.pop("query", "testing"), base_url=f"{srv.base}{mode}/api/query", **kw)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- split_arxiv_id, matches_venue, Paper ------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2104.12255v1", ("2104.12255", 1)),
    ("2104.12255", ("2104.12255", None)),
    ("2602.01234v12", ("2602.01234", 12)),
    ("arXiv:2602.01234", ("2602.01234", None)),
    ("http://arxiv.org/abs/2104.12255v1", ("2104.12255", 1)),
    ("https://arxiv.org/pdf/2104.12255v3.pdf", ("2104.12255", 3)),
    ("https://export.arxiv.org/abs/2602.01234?context=cs", ("2602.01234", None)),
    ("oai:arXiv.org:2508.13426v1", ("2508.13426", 1)),
    ("10.48550/arXiv.2104.12255", ("2104.12255", None)),
    ("quant-ph/0201082", ("quant-ph/0201082", None)),
    ("arXiv:quant-ph/0201082v2", ("quant-ph/0201082", 2)),
    ("http://arxiv.org/abs/cond-mat/0607501v2", ("cond-mat/0607501", 2)),
    ("oai:arXiv.org:math/0309136", ("math/0309136", None)),
    ("math.GT/0309136v1", ("math/0309136", 1)),
    ("", None),
    (None, None),
    ("not an id", None),
    ("https://example.com/posts/2104.12255", None),
    ("10.1103/PhysRevB.85.115117", None),
    ("2104.12255x", None),
])
def test_split_arxiv_id(text: str | None, expected: tuple[str, int | None] | None) -> None:
    assert split_arxiv_id(text) == expected


def paper(comment: str | None = None, journal_ref: str | None = None) -> Paper:
    when = utc(2026, 1, 1)
    return Paper(id="2601.00001", version=1, title="t", summary="s", authors=["A"], published=when, updated=when,
                 comment=comment, journal_ref=journal_ref)


@pytest.mark.parametrize("comment, journal_ref, venues, expected", [
    ("Accepted at ICLR 2026", None, ["ICLR 2026"], "ICLR 2026"),
    ("accepted at iclr 2026 (oral)", None, ["ICLR 2026"], "ICLR 2026"),
    ("ICLR'26 camera-ready", None, ["ICLR 2026"], "ICLR 2026"),
    ("ICLR’26", None, ["ICLR 2026"], "ICLR 2026"),
    ("To appear, ICLR-2026", None, ["ICLR 2026"], "ICLR 2026"),
    ("iclr2026", None, ["ICLR 2026"], "ICLR 2026"),
    ("International Conference on Learning Representations (ICLR) 2026", None, ["ICLR 2026"], "ICLR 2026"),
    (None, "Published at ICLR 2025", ["ICLR 2026"], None),
    ("ICLR 2026 20 pages", None, ["NeurIPS 2025"], None),
    ("SICLR 2026", None, ["ICLR 2026"], None),
    ("ICLR 26 pages", None, ["ICLR 2026"], None),
    (None, "NeurIPS 2025 Datasets and Benchmarks Track", ["ICLR 2026", "NeurIPS 2025"], "NeurIPS 2025"),
    ("NIPS 2017", None, ["NeurIPS 2017"], "NeurIPS 2017"),
    ("The 2026 Conference on Neural Information Processing Systems", None, ["NeurIPS 2026"], "NeurIPS 2026"),
    ("ICML 2024 workshop on X", None, ["ICML"], "ICML"),
    ("2025 IEEE/RSJ international conference on intelligent robots and systems (IROS)", None, ["IROS 2025"],
     "IROS 2025"),
    ("Extends our 2025 workshop paper; accepted at ICLR 2026", None, ["ICLR 2025", "ICLR 2026"], "ICLR 2026"),
    ("ICMLA 2024", None, ["ICML"], None),
    (None, None, ["ICLR 2026"], None),
    ("ICLR 2026", None, [], None),
])
def test_matches_venue(comment: str | None, journal_ref: str | None, venues: list[str], expected: str | None) -> None:
    assert matches_venue(paper(comment, journal_ref), venues) == expected


def test_paper_shape() -> None:
    p = Paper(id="2104.12255", version=1, title=" A \n  title ", summary="line one\n line two", authors=["X", "Y"],
              published=datetime(2021, 4, 20, 16, 7, 14), updated=datetime(2021, 4, 20, 18, 7, 14, tzinfo=UTC),
              categories=["cs.CR"], url="https://arxiv.org/abs/2104.12255v1", source="arxiv:q")
    assert p.title == "A title" and p.summary == "line one line two"
    assert p.published.tzinfo is not None and p.published == utc(2021, 4, 20, 16, 7, 14)  # naive is UTC
    assert hash(p) == hash(p) and p.authors == ("X", "Y")
    d = p.as_dict()
    assert set(d) == {"id", "version", "title", "summary", "authors", "published", "updated", "categories",
                      "comment", "journal_ref", "pdf_url", "url", "source"}
    assert d["published"] == "2021-04-20T16:07:14Z" and d["updated"] == "2021-04-20T18:07:14Z"
    assert d["authors"] == ["X", "Y"] and d["categories"] == ["cs.CR"]
    json.dumps(d)
    assert issubclass(SourceError, Exception) and isinstance(ArxivSource("q", delay_seconds=0), PaperSource)


def test_importing_the_package_is_cheap() -> None:
    code = ("import sys, autobench.research.paper_sources as p; "
            "print(sorted(m for m in ('arxiv', 'requests', 'lxml', 'bs4', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_implementations_are_imported_only_through_the_registry() -> None:
    package = "autobench.research.paper_sources"
    code = (f"import sys, {package} as p\n"
            f"def loaded(): return sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('{package}.'))\n"
            "print(loaded())\n"
            "from autobench.research.paper_sources import FeedSource\n"  # by its class name: the registry's entry
            "print(FeedSource is p.REGISTRY.get('feed'), loaded())\n"
            "print(p.REGISTRY.get('citations').__name__, loaded())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.splitlines() == ["['base']", "True ['_http', 'base', 'feed']",
                                       "CitationSource ['_http', 'base', 'feed', 'semantic_scholar']"]
    with pytest.raises(AttributeError, match="has no attribute 'RssSource'"):
        import autobench.research.paper_sources as package_module

        package_module.RssSource  # noqa: B018


# --- ArxivSource on the real recorded answers --------------------------------------------------


@needs_atom
def test_arxiv_pages_through_the_recorded_testing_query(srv: Any) -> None:
    papers = arxiv(srv, page_size=10, max_results=30).fetch()
    starts = [(q["start"], q["max_results"]) for q in requests_to(srv, "/api/query")]
    assert starts == [("0", "10"), ("10", "10"), ("20", "10")]
    first = requests_to(srv, "/api/query")[0]
    assert first["search_query"] == "testing"
    assert (first["sortBy"], first["sortOrder"]) == ("submittedDate", "descending")
    assert len(papers) == 30
    # The first and last entry of each recorded page, in order.
    assert [papers[i].id for i in (0, 9, 10, 19, 20, 29)] == [
        "2202.12139", "1812.11470", "2403.16981", "2202.06271", "2008.01944", "2602.15552"]
    p = papers[0]
    assert p.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert p.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert p.categories == ("cs.SE", "cs.LG") and p.version == 1
    assert p.published == utc(2022, 2, 24, 15, 5, 19) and p.updated == p.published
    assert p.pdf_url == "https://arxiv.org/pdf/2202.12139v1" and p.url == "https://arxiv.org/abs/2202.12139v1"
    assert p.source == "arxiv:testing" and p.doi == "10.1109/ICSTW55395.2022.00035"
    assert p.journal_ref.startswith("Artificial Intelligence in Software Testing @ 2022 IEEE International")
    active = papers[2]  # 2005.14124v2: published 2020-05-28, revised 2020-07-16
    assert (active.id, active.version) == ("2005.14124", 2)
    assert active.title == "Active Fuzzing for Testing and Securing Cyber-Physical Systems"
    assert active.authors == ("Yuqi Chen", "Bohan Xuan", "Christopher M. Poskitt", "Jun Sun", "Fan Zhang")
    assert active.updated == utc(2020, 7, 16, 8, 15, 48)
    assert matches_venue(active, ["ICSE 2020", "ISSTA 2020"]) == "ISSTA 2020"
    assert papers[4].title == "ChatGPT and Software Testing Education: Promises & Perils"
    assert papers[22].title == "$ω$Test: WebView-Oriented Testing for Android Applications"
    assert papers[24].authors[-1] == "Kasper Socha" and len(papers[24].authors) == 6
    last = papers[29]
    assert last.title == "Latent Regularization in Generative Test Input Generation"
    assert last.authors == ("Giorgi Merabishvili", "Oliver Weißl", "Andrea Stocco")
    assert matches_venue(last, ["ICSE 2026"]) == "ICSE 2026"  # "co-located with ICSE 2026"
    assert last.as_dict()["published"] == "2026-02-17T12:57:17Z"


@needs_atom
def test_arxiv_max_results_caps_the_papers(srv: Any) -> None:
    papers = arxiv(srv, page_size=10, max_results=15).fetch()
    assert len(papers) == 15 and papers[-1].id == "1912.04900"  # the 5th entry of the second page
    assert [q["start"] for q in requests_to(srv, "/api/query")] == ["0", "10"]


@needs_atom
def test_arxiv_since_stops_paging_and_env_is_honoured(srv: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOBENCH_ARXIV_URL", f"{srv.base}/api/query")
    monkeypatch.setenv("AUTOBENCH_ARXIV_DELAY", "0")
    source = ArxivSource("testing", page_size=10, max_results=30, backoff_seconds=0.01)
    assert source.base_url == f"{srv.base}/api/query" and source.delay_seconds == 0
    # The 6th entry of the first page (1202.4527, submitted 2012-02-21) is the first one not
    # submitted after 2016-06-01: paging stops there, the second page is never asked for.
    papers = source.fetch(since=utc(2016, 6, 1))
    assert [p.id for p in papers] == ["2202.12139", "2405.13786", "2005.14124", "2204.08348", "2302.03287"]
    assert [q["start"] for q in requests_to(srv, "/api/query")] == ["0"]
    assert source.fetch(since=utc(2030, 1, 1)) == []


def test_arxiv_defaults_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOBENCH_ARXIV_URL", raising=False)
    monkeypatch.delenv("AUTOBENCH_ARXIV_DELAY", raising=False)
    source = ArxivSource("cat:cs.IR")
    assert source.base_url == "https://export.arxiv.org/api/query" and source.delay_seconds == 3.0
    assert source.name == "arxiv:cat:cs.IR"
    assert ArxivSource("q", delay_seconds=1.5).delay_seconds == 1.5
    monkeypatch.setenv("AUTOBENCH_ARXIV_DELAY", "soon")
    with pytest.raises(SourceError, match="AUTOBENCH_ARXIV_DELAY"):
        ArxivSource("q")
    with pytest.raises(ValueError, match="page_size"):
        ArxivSource("q", page_size=5000, delay_seconds=0)


@needs_atom
def test_arxiv_single_papers_by_id(srv: Any) -> None:
    source = arxiv(srv)
    [heat] = source.by_ids(["1605.08386"])
    assert (heat.id, heat.version) == ("1605.08386", 1)
    assert heat.title == "Heat-bath random walks with Markov bases"
    assert heat.authors == ("Caprice Stanley", "Tobias Windisch")
    assert heat.categories == ("math.CO", "math.ST") and heat.comment == "20 pages, 3 figures"
    assert heat.journal_ref is None and heat.published == utc(2016, 5, 26, 17, 59, 46)
    [zero] = source.by_ids(["2104.12255v1"])
    assert (zero.id, zero.version, zero.title) == ("2104.12255", 1, "0")
    assert zero.authors == ("Quan Thoi Minh Nguyen",) and zero.categories == ("cs.CR",)
    assert zero.summary.startswith("What is the funniest number in cryptography? 0.")
    assert source.by_ids(["0000.0000"]) == []  # an empty answer is no papers, not an error
    assert requests_to(srv, "/api/query")[0]["id_list"] == "1605.08386"


@needs_atom
def test_arxiv_legacy_2016_answer(srv: Any) -> None:
    papers = arxiv(srv, "/legacy", query='au:del_maestro AND ti:"quantum criticality"').fetch()
    assert [(p.id, p.version) for p in papers] == [("1111.2011", 2), ("cond-mat/0607501", 2)]
    first, second = papers
    # The title is split over two lines with an indent in the file.
    assert first.title == "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    assert first.authors == ("James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic")
    assert first.journal_ref == "Phys. Rev. B 85, 115117 (2012)" and first.doi == "10.1103/PhysRevB.85.115117"
    assert first.comment == "8 pages, 3 figures. Published version"
    assert first.pdf_url == "http://arxiv.org/pdf/1111.2011v2"  # not the doi link
    assert first.url == "http://arxiv.org/abs/1111.2011v2"
    assert first.published == utc(2011, 11, 8, 18, 48, 36) and first.updated == utc(2012, 4, 2, 12, 38, 54)
    assert first.summary.startswith("Theoretical description of anisotropic systems, such as layered superconductors")
    assert second.journal_ref == "Phys. Rev. B 74, 214517 (2006)" and second.doi == "10.1103/PhysRevB.74.214517"
    assert second.categories == ("cond-mat.str-el",)


@needs_atom
def test_legacy_2016_answer_through_feed_source() -> None:
    papers = FeedSource(str(LEGACY_FILE)).fetch()
    assert [(p.id, p.version) for p in papers] == [("1111.2011", 2), ("cond-mat/0607501", 2)]
    assert papers[0].doi == "10.1103/PhysRevB.85.115117" and papers[0].journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert papers[0].pdf_url == "http://arxiv.org/pdf/1111.2011v2" and papers[0].url == "http://arxiv.org/abs/1111.2011v2"
    assert papers[1].authors == ("R. G. Melko", "A. Del Maestro", "A. A. Burkov")
    assert papers[0].categories == ("cond-mat.str-el", "cond-mat.stat-mech")


# --- ArxivSource on error answers --------------------------------------------------------------


@needs_atom
def test_arxiv_http_400_is_a_source_error(srv: Any) -> None:
    with pytest.raises(SourceError) as err:
        arxiv(srv, "/bad400").fetch()
    msg = str(err.value)
    assert "arxiv:testing" in msg and "HTTP 400" in msg and "incorrect id format for 1234.12345" in msg
    assert "\n" not in msg and len(requests_to(srv, "/api/query")) == 1  # a 4xx is not retried


@needs_atom
def test_arxiv_error_entry_is_a_source_error_not_a_paper(srv: Any) -> None:
    with pytest.raises(SourceError, match=r"arxiv:testing: the arXiv API answered an error: incorrect id format"):
        arxiv(srv, "/errorentry").fetch()
    with pytest.raises(SourceError, match="api/errors#incorrect_id_format_for_1234.12345"):
        arxiv(srv, "/errorentry").by_ids(["1234.12345"])


@needs_atom
@pytest.mark.parametrize("mode, what", [("/html", "root element <html>"), ("/truncated", "not an Atom feed")])
def test_arxiv_malformed_page_is_a_source_error_not_zero_results(srv: Any, mode: str, what: str) -> None:
    with pytest.raises(SourceError, match="malformed page") as err:
        arxiv(srv, mode, retries=1).fetch()
    assert what in str(err.value) and "2 attempt(s)" in str(err.value)
    assert len(requests_to(srv, "/api/query")) == 2


@needs_atom
def test_arxiv_timeout_is_a_source_error_after_retries(srv: Any) -> None:
    with pytest.raises(SourceError, match=r"no answer within 0.2 s .*gave up after 2 attempt") as err:
        arxiv(srv, "/slow", retries=1, timeout_seconds=0.2).by_ids(["1605.08386"])
    assert "arxiv:testing" in str(err.value)
    assert len(requests_to(srv, "/slow/api/query")) == 2


@needs_atom
def test_arxiv_503_then_200_recovers(srv: Any) -> None:
    [heat] = arxiv(srv, "/flaky", retries=2).by_ids(["1605.08386"])
    assert heat.id == "1605.08386"
    assert len(requests_to(srv, "/flaky/api/query")) == 2


def test_arxiv_unreachable_server_is_a_source_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = ArxivSource("q", base_url=f"http://127.0.0.1:{port}/api/query", delay_seconds=0, retries=1,
                         backoff_seconds=0.01, timeout_seconds=2)
    with pytest.raises(SourceError, match="connection failed"):
        source.fetch()


# --- FeedSource --------------------------------------------------------------------------------


def check_arxiv_rss(papers: list[Paper]) -> None:
    assert len(papers) == 86  # 86 complete entries; the 87th (2508.13435) is cut off
    assert "2508.13435" not in {p.id for p in papers}
    first = papers[0]
    assert (first.id, first.version) == ("2508.13167", 1)
    assert first.title == ("Chain-of-Agents: End-to-End Agent Foundation Models via Multi-Agent Distillation "
                           "and Agentic RL")
    assert first.summary.startswith("Recent advances in large language models (LLMs) and multi-agent systems")
    assert len(first.authors) == 30 and first.authors[:2] == ("Weizhen Li", "Jianbo Lin")
    assert first.authors[-1] == "Wangchunshu Zhou" and "Yuchen Eleanor Jiang" in first.authors
    assert first.categories == ("cs.AI", "cs.CL")
    assert first.published == utc(2025, 8, 20, 4)  # 2025-08-20T00:00:00-04:00
    assert first.updated == datetime(2025, 8, 20, 4, 0, 19, 910019, tzinfo=UTC)
    assert first.url == "https://arxiv.org/abs/2508.13167" and first.pdf_url is None
    assert papers[-1].id == "2508.13434"
    assert not any(p.summary.startswith("arXiv:") or "Announce Type" in p.summary for p in papers)
    cross = next(p for p in papers if p.id == "2508.00875")  # Announce Type: cross
    assert cross.title == "Preliminary suggestions for rigorous GPAI model evaluations"
    assert cross.summary.startswith("This document presents a preliminary compilation")
    assert cross.doi == "10.7249/PEA3971-1" and cross.authors == (
        "Patricia Paskov", "Michael J. Byun", "Kevin Wei", "Toby Webster")
    iros = next(p for p in papers if p.id == "2508.13303")
    assert iros.journal_ref == "2025 IEEE/RSJ international conference on intelligent robots and systems (IROS)"
    assert matches_venue(iros, ["IROS 2025"]) == "IROS 2025"


@needs_rss
def test_real_truncated_arxiv_feed_over_http(srv: Any) -> None:
    source = FeedSource(f"{srv.base}/rss/cs.AI", retries=0)
    assert source.name == f"feed:{srv.base}/rss/cs.AI"
    papers = source.fetch()
    check_arxiv_rss(papers)
    assert {p.source for p in papers} == {source.name}


@needs_rss
def test_real_truncated_arxiv_feed_from_a_file() -> None:
    check_arxiv_rss(FeedSource(str(RSS_FILE)).fetch())
    check_arxiv_rss(FeedSource(RSS_FILE.as_uri()).fetch())


@needs_rss
def test_feed_watermark_compares_updated() -> None:
    # The entries' <updated> are feed-generation times: 2025-08-20T04:00:19.89...-.91... +00:00.
    source = FeedSource(str(RSS_FILE))
    since = datetime(2025, 8, 20, 4, 0, 19, 905000, tzinfo=UTC)
    newer = source.fetch(since=since)
    assert newer and all(p.updated > since for p in newer)
    assert len(newer) < 86 and source.fetch(since=utc(2025, 8, 21)) == []
    assert newer[0].id == "2508.13167"


def test_rss2_blog_feed(srv: Any) -> None:
    papers = FeedSource(f"{srv.base}/blog/rss.xml", retries=0).fetch()
    assert [p.id for p in papers] == ["url:https://rival.example.com/blog/recallbench-91", "2601.00001",
                                      "2602.01234", "id:rival-note-17"]
    post, iclr, replaced, note = papers
    assert post.title == "How we reached 91.2 on RecallBench" and post.version is None
    assert post.summary == "Hard negatives & a bigger re-ranker. Code soon."
    # one dc:creator per author: "Lovelace, Ada" is one person (one element with a list is split)
    assert post.authors == ("Ada Lovelace", "Alan Turing") and post.categories == ("retrieval", "benchmarks")
    assert post.published == utc(2026, 2, 3, 14, 30) and post.updated == post.published
    assert post.url == "https://rival.example.com/blog/recallbench-91"
    assert (iclr.version, iclr.url) == (2, "https://arxiv.org/abs/2601.00001v2")
    assert iclr.published == utc(2026, 2, 2, 8) and iclr.authors == ("Grace Hopper",)
    assert replaced.version == 3 and replaced.doi == "10.1234/dense.2026" and replaced.journal_ref == "ICLR'26"
    assert replaced.summary == "We scale dense retrieval with $x<y$ and $z>w$."
    assert replaced.authors == ("Jane Doe", "John Smith", "Ada Lovelace")
    assert matches_venue(replaced, ["ICLR 2026"]) == "ICLR 2026"
    assert note.published == utc(2026, 2, 4, 12) and note.url is None  # the channel's lastBuildDate
    since = utc(2026, 2, 2, 12)
    assert [p.id for p in FeedSource(f"{srv.base}/blog/rss.xml").fetch(since)] == [post.id, note.id]


def test_atom_blog_feed(srv: Any) -> None:
    papers = FeedSource(f"{srv.base}/blog/atom.xml", retries=0).fetch()
    assert [p.id for p in papers] == ["url:https://competitor.example.org/posts/42",
                                      "url:https://competitor.example.org/posts/41"]
    new, old = papers
    assert new.title == "Scaling recall to 1B documents" and new.summary == "We shard the index."
    assert new.authors == ("Grace Hopper", "Edsger Dijkstra") and new.categories == ("retrieval",)
    assert new.published == utc(2026, 2, 5, 8) and new.updated == utc(2026, 2, 5, 9)
    assert new.pdf_url == "https://competitor.example.org/posts/42.pdf"
    assert old.summary == "Text with an entity." and old.published == old.updated == utc(2026, 1, 10, 8)
    assert FeedSource(f"{srv.base}/blog/atom.xml").fetch(utc(2026, 2, 1)) == [new]


def test_local_feed_relative_to_home_and_broken_feeds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "feeds").mkdir(parents=True)
    (home / "feeds" / "local.xml").write_bytes(ATOM_BLOG)
    assert len(FeedSource("feeds/local.xml", home).fetch()) == 2
    # A hand-written feed with an undeclared entity and a cut-off last item keeps what is whole.
    broken = RSS2_BLOG.replace(b"How we reached", b"How&nbsp;we reached")
    broken = broken[: broken.index(b"<title>A note with no link")]
    (home / "feeds" / "broken.xml").write_bytes(broken)
    got = FeedSource("feeds/broken.xml", home).fetch()
    assert [p.title for p in got][0] == "How we reached 91.2 on RecallBench" and len(got) == 3
    (home / "feeds" / "empty.xml").write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
                                             "</channel></rss>")
    assert FeedSource("feeds/empty.xml", home).fetch() == []
    (home / "feeds" / "page.html").write_bytes(HTML_PAGE)
    with pytest.raises(SourceError, match=r"feed:feeds/page.html: not an RSS or Atom feed \(root element <html>\)"):
        FeedSource("feeds/page.html", home).fetch()
    (home / "feeds" / "text.xml").write_text("just some words")
    with pytest.raises(SourceError, match="not an RSS or Atom feed"):
        FeedSource("feeds/text.xml", home).fetch()
    with pytest.raises(SourceError, match="no such file"):
        FeedSource("feeds/missing.xml", home).fetch()
    with pytest.raises(SourceError, match="needs the state folder"):
        FeedSource("feeds/local.xml").fetch()


@needs_rss
def test_feed_size_cap(srv: Any) -> None:
    with pytest.raises(SourceError, match="over the 100000-byte limit"):
        FeedSource(f"{srv.base}/rss/cs.AI", retries=0, max_bytes=100_000).fetch()
    with pytest.raises(SourceError, match="over the 100000-byte limit"):
        FeedSource(str(RSS_FILE), max_bytes=100_000).fetch()


def test_html_page_over_http_is_not_a_feed(srv: Any) -> None:
    with pytest.raises(SourceError, match="not an RSS or Atom feed"):
        FeedSource(f"{srv.base}/blog/html", retries=0).fetch()
    with pytest.raises(SourceError, match="HTTP 404"):
        FeedSource(f"{srv.base}/blog/nothing.xml", retries=0).fetch()


# --- CitationSource ----------------------------------------------------------------------------


def test_citations_page_with_offset_and_next_and_send_the_key(srv: Any) -> None:
    source = CitationSource(f"{srv.base}/s2/graph/v1/", ["arXiv:2104.12255"], api_key="s3cret", limit=2,
                            backoff=0.01)
    papers = source.fetch()
    log = [(q, h) for path, q, h in srv.state["log"] if path.endswith("/citations")]
    assert [q["offset"] for q, _ in log] == ["0", "2", "4"] and {q["limit"] for q, _ in log} == {"2"}
    assert log[0][0]["fields"] == "title,abstract,externalIds,publicationDate,authors,venue,year,url"
    assert all(h.get("x-api-key") == "s3cret" for _, h in log)
    assert "autobench/" in log[0][1]["User-Agent"] and "research ingest" in log[0][1]["User-Agent"]
    assert [p.id for p in papers] == ["2601.00010", "doi:10.1/bbb", "s2:ccc3", "2512.09999"]
    one, two, three, five = papers
    assert one.title == "Citing paper one" and one.authors == ("Ada Lovelace", "Alan Turing")
    assert one.published == utc(2026, 1, 15) and one.doi == "10.1/aaa" and one.version is None
    assert one.pdf_url == "https://arxiv.org/pdf/2601.00010" and one.url.endswith("/paper/aaa1")
    assert one.source == "citations:arXiv:2104.12255"
    assert one.journal_ref == "International Conference on Learning Representations 2026"
    assert matches_venue(one, ["ICLR 2026"]) == "ICLR 2026"
    assert two.published == utc(2025, 1, 1) and two.summary == "" and two.journal_ref == "NeurIPS 2025"
    assert three.journal_ref is None and three.url is None
    assert [p.id for p in source.fetch(since=utc(2025, 12, 1))] == ["2601.00010", "2512.09999"]
    assert "s3cret" not in repr(source)


def test_citations_without_a_key_and_several_papers(srv: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOBENCH_S2_API_KEY", raising=False)
    assert api_key_from_env() is None
    source = CitationSource(f"{srv.base}/s2/graph/v1", ["arXiv:2104.12255", "DOI:10.18653/v1/N18-3011"])
    papers = source.fetch()
    assert [p.id for p in papers] == ["2601.00010", "doi:10.1/bbb", "s2:ccc3", "2512.09999"]  # one per paper
    paths = [path for path, _, _ in srv.state["log"]]
    assert paths[-1] == "/s2/graph/v1/paper/DOI:10.18653/v1/N18-3011/citations"
    assert all("x-api-key" not in {k.lower() for k in h} for _, _, h in srv.state["log"])
    monkeypatch.setenv("AUTOBENCH_S2_API_KEY", " from-env ")
    assert api_key_from_env() == "from-env"


def test_citations_429_then_200(srv: Any) -> None:
    source = CitationSource(f"{srv.base}/s2-429/graph/v1", ["arXiv:2104.12255"], retries=2, backoff=0.01)
    assert len(source.fetch()) == 4
    hits = srv.state["hits"]["/s2-429/graph/v1/paper/arXiv:2104.12255/citations"]
    assert hits == 2  # the 429, then the one page (limit 100)


def test_citations_404_is_a_source_error(srv: Any) -> None:
    source = CitationSource(f"{srv.base}/s2/graph/v1", ["arXiv:9999.99999"], backoff=0.01)
    with pytest.raises(SourceError) as err:
        source.fetch()
    msg = str(err.value)
    assert msg.startswith("citations:arXiv:9999.99999: HTTP 404")
    assert "no such paper" in msg and "Paper with id arXiv:9999.99999 not found" in msg
    assert len(srv.state["log"]) == 1


# --- one factory: specs and build ---------------------------------------------------------------


def test_one_factory_builds_every_source_a_research_config_names(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """specs() lists what a research_config asks for, build() makes each one: the ingest's fetch
    tasks and sources_from_config go through the same two functions."""
    import datetime as dt

    from autobench.schemas import ResearchConfig

    monkeypatch.setenv("AUTOBENCH_ARXIV_DELAY", "0")
    monkeypatch.setenv("AUTOBENCH_S2_API_KEY", "env-key")
    monkeypatch.delenv("AUTOBENCH_ARXIV_URL", raising=False)
    config = ResearchConfig.model_validate({
        "research_sources": {
            "arxiv_queries": ["cat:cs.IR AND abs:recall", "ti:retrieval"],
            "venues": ["ICLR 2026"],
            "competitor_blogs": ["https://rival.example.com/feed.xml"],
            "local_feeds": ["feeds/local.xml"],
            "citation_tracking": {"papers": ["arXiv:2104.12255", "DOI:10.1/x"], "api_url": "http://127.0.0.1:9/graph/v1"},
        },
        "arxiv": {"page_size": 50, "max_results": 80, "delay_seconds": 3, "retries": 2, "timeout_seconds": 10},
    })
    assert names() == REGISTRY.names() == ("arxiv", "competitor", "feed", "citations")
    listed = specs(config)
    assert listed == [SourceSpec("arxiv", "arxiv: cat:cs.IR AND abs:recall", "cat:cs.IR AND abs:recall"),
                      SourceSpec("arxiv", "arxiv: ti:retrieval", "ti:retrieval"),
                      SourceSpec("competitor", "competitor blog: https://rival.example.com/feed.xml",
                                 "https://rival.example.com/feed.xml"),
                      SourceSpec("feed", "feed: feeds/local.xml", "feeds/local.xml"),
                      SourceSpec("citations", "citations of our core method", "arXiv:2104.12255,DOI:10.1/x")]
    assert specs(config.model_dump()) == listed  # the dict of a config too
    assert SourceSpec(**listed[2].as_dict()) == listed[2]  # what a mapped task receives, rebuilt

    now = dt.datetime(2026, 1, 5, 7, tzinfo=dt.UTC)
    sources = sources_from_config(config, tmp_path, now=now)
    assert [type(s) for s in sources] == [type(build(spec, config, home=tmp_path, now=now)) for spec in listed]
    assert [s.name for s in sources] == ["arxiv:cat:cs.IR AND abs:recall", "arxiv:ti:retrieval",
                                        "feed:https://rival.example.com/feed.xml", "feed:feeds/local.xml",
                                        "citations:arXiv:2104.12255,DOI:10.1/x"]
    first = sources[0]
    assert isinstance(first, ArxivSource)
    assert (first.page_size, first.max_results, first.retries, first.timeout_seconds) == (50, 80, 2, 10.0)
    assert first.sort == "updated"  # so a new version of a known paper shows up
    assert first.delay_seconds == 0  # the environment overrides the file, for loopback runs
    assert isinstance(sources[2], CompetitorFeedSource) and isinstance(sources[3], FeedSource)
    assert not isinstance(sources[3], CompetitorFeedSource)
    assert sources[3].home == tmp_path and sources[3].now == now
    cites = sources[4]
    assert isinstance(cites, CitationSource) and cites.api_key == "env-key"
    assert cites.paper_ids == ["arXiv:2104.12255", "DOI:10.1/x"]
    assert sources_from_config(config, tmp_path, api_key="conn-key")[4].api_key == "conn-key"
    monkeypatch.delenv("AUTOBENCH_ARXIV_DELAY")
    assert sources_from_config(config.model_dump(), tmp_path)[0].delay_seconds == 3.0
    with pytest.raises(SourceError,
                       match="unknown paper source 'gopher' .choose from arxiv, competitor, feed, citations"):
        build(SourceSpec("gopher", "g", "x"), config)
    bare = ResearchConfig.model_validate({"research_sources": {"citation_tracking": {"papers": []}}})
    assert sources_from_config(bare, tmp_path) == []
