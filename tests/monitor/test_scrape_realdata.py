"""The scrapers on real leaderboard pages and data files, served over loopback HTTP.

The files are other people's (see /work/shared/realdata/MANIFEST.md, sections 1 and 2); they are
read from there at test time, never copied into this repository. Every expected figure below
was checked by hand against the file (row counts by counting its <tr>s / records, top systems
and scores by reading the first rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler

import pytest
from conftest import SHARED, loopback

from autobench.monitor.scrape import Row, ScrapeError, ScrapeOptions, scrape

REALDATA = SHARED / "realdata"

pytestmark = pytest.mark.skipif(not (REALDATA / "leaderboard_html").is_dir(),
                                reason=f"the real leaderboard files are not here ({REALDATA} is absent)")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with loopback(partial(_Quiet, directory=str(REALDATA))) as httpd:
        yield httpd.base


def rows_of(base: str, path: str, method: str, **opts) -> list[Row]:
    got = scrape(f"{base}/{path}", method, ScrapeOptions(**opts), retries=0)
    assert got.rows is not None
    return got.rows


def html(base: str, name: str, **opts) -> list[Row]:
    return rows_of(base, f"leaderboard_html/{name}", "html_table", **opts)


def data(base: str, name: str, **opts) -> list[Row]:
    return rows_of(base, f"leaderboard_data/{name}", "api", **opts)


def best(rows: list[Row]) -> Row:
    return max(rows, key=lambda r: r.score)


# --- SWE-bench: 4 tabbed tables with identical headers, and the JSON they are built from -------------

SWEBENCH = [  # tab, rows in the HTML table, records in the JSON, first system, its score
    ("Test", 18, 18, "OpenHands + CodeAct v2.1 (claude-3-5-sonnet-20241022)", 29.38),
    ("Verified", 60, 61, "W&B Programmer O1 crosscheck5", 64.6),
    ("Lite", 59, 63, "Isoform", 55.0),
    ("Multimodal", 10, 10, "SWE-agent Multimodal + GPT 4o (2024-08-06)", 12.19),
]


@pytest.mark.parametrize(("index", "case"), list(enumerate(SWEBENCH, start=1)), ids=[c[0] for c in SWEBENCH])
def test_swebench_html_tables(base, index, case):
    _, n_html, _, top, score = case
    rows = html(base, "swebench_index.html", metric="% Resolved", table=index)
    assert len(rows) == n_html
    assert rows[0] == Row(None, top, score)  # no rank column on the page
    assert all(r.rank is None for r in rows)
    assert not any(ch in r.system for r in rows for ch in "🥇🥈🥉🤠✅✓🔗")  # emoji stripped


def test_swebench_default_is_the_first_table(base):
    rows = html(base, "swebench_index.html", metric="% resolved")
    assert len(rows) == 18 and rows[0].score == 29.38
    assert rows[-1] == Row(None, "RAG + ChatGPT 3.5", 0.17)


@pytest.mark.parametrize("case", SWEBENCH, ids=[c[0] for c in SWEBENCH])
def test_swebench_json(base, case):
    name, n_html, n_json, top, score = case
    rows = data(base, "swebench_template_data.json", metric="resolved", records=f"leaderboards[name={name}].results")
    assert len(rows) == n_json
    assert rows[0] == Row(None, top, score)
    # the page and the JSON of the same commit disagree: the JSON has extra entries, in the same order
    page = html(base, "swebench_index.html", metric="% Resolved", table=[c[0] for c in SWEBENCH].index(name) + 1)
    extra = Counter(r.system for r in rows) - Counter(r.system for r in page)
    assert sum(extra.values()) == n_json - n_html
    assert [r.system for r in rows if r.system not in extra] == [r.system for r in page]


def test_swebench_json_extra_entries(base):
    rows = data(base, "swebench_template_data.json", metric="resolved", records="leaderboards[name=Verified].results")
    page = html(base, "swebench_index.html", metric="% Resolved", table=2)
    assert set(r.system for r in rows) - set(r.system for r in page) == {"Factory Code Droid"}


# --- SQuAD: minified, no thead, rank+date cells, ties, Human Performance without rank -----------------

def test_squad2(base):
    rows = html(base, "squad_explorer_gh-pages_index.html", metric="F1")
    assert len(rows) == 205  # incl. Human Performance
    assert rows[0] == Row(None, "Human Performance", 89.452)
    assert rows[1] == Row(1, "IE-Net (ensemble)", 93.214)
    assert rows[2] == Row(2, "FPNet (ensemble)", 93.183)
    assert rows[-1] == Row(92, "Tree-LSTM + BiDAF + ELMo (single model)", 62.341)
    assert best(rows) == rows[1]
    ranks = Counter(r.rank for r in rows if r.rank is not None)
    assert len(ranks) == 92 and sum(1 for n in ranks.values() if n > 1) == 44  # 44 tied ranks
    assert not any("institution" in r.system or "http" in r.system or "Stanford" in r.system for r in rows)
    em = html(base, "squad_explorer_gh-pages_index.html", metric="EM")
    assert em[0] == Row(None, "Human Performance", 86.831) and em[1] == Row(1, "IE-Net (ensemble)", 90.939)


def test_squad11(base):
    rows = html(base, "squad_explorer_gh-pages_index.html", metric="EM", table=2)
    assert len(rows) == 179
    assert rows[0] == Row(None, "Human Performance", 82.304)
    assert rows[1] == Row(1, "{ANNA} (single model)", 90.622)
    assert rows[2] == Row(2, "LUKE (single model)", 90.202)  # then an institution with &amp; and a paper link
    assert rows[-1] == Row(62, "UQA (single model)", 53.698)
    ranks = Counter(r.rank for r in rows if r.rank is not None)
    assert len(ranks) == 62 and sum(1 for n in ranks.values() if n > 1) == 32
    f1 = html(base, "squad_explorer_gh-pages_index.html", metric="F1", table=2)
    assert f1[0].score == 91.221 and best(f1) == Row(1, "{ANNA} (single model)", 95.719)


# --- Spider: Markdown with YAML front matter, two tables, "-" cells ---------------------------------

def test_spider_execution_table(base):
    rows = html(base, "spider_yale-lily_spider.md", metric="Test")
    assert len(rows) == 34
    assert rows[:3] == [Row(1, "MiniSeek", 91.2), Row(1, "DAIL-SQL + GPT-4 + Self-Consistency", 86.6),
                        Row(2, "DAIL-SQL + GPT-4", 86.2)]
    assert rows[-1] == Row(33, "GAZP + BERT (DB content used)", 53.5)


def test_spider_exact_match_table(base):
    test = html(base, "spider_yale-lily_spider.md", metric="Test", table=2)
    assert len(test) == 84
    assert test[:2] == [Row(1, "MiniSeek", 81.5), Row(1, "Graphix-3B + PICARD (DB content used)", 74.0)]
    assert test[-1] == Row(83, "Seq2Seq + attention", 4.8)
    # "Dev" is only in the second table; 84 rows minus the 10 whose Dev cell is "-"
    dev = html(base, "spider_yale-lily_spider.md", metric="Dev")
    assert len(dev) == 74
    assert dev[0] == Row(1, "MiniSeek", 80.3)
    assert not any("coming soon" in r.system or "et al" in r.system for r in test + dev)


# --- FIRE-Bench: the leaderboard nested in a layout table --------------------------------------------

def test_firebench_nested_table(base):
    rows = html(base, "firebench_README.md", metric="F1 Score")
    assert rows == [Row(1, "CC Sonnet-4", 46.7), Row(2, "CX gpt-5-med", 41.9), Row(3, "OH gpt-5", 37.9),
                    Row(4, "OH o4-mini", 31.9)]
    assert html(base, "firebench_README.md", metric="Prec.", table=1)[0] == Row(1, "CC Sonnet-4", 52.1)
    assert best(html(base, "firebench_README.md", metric="Recall")) == Row(2, "CX gpt-5-med", 49.0)


# --- RobustBench: an HTML fragment, <br/> in headers, percentages, td-footer notes --------------------

def test_robustbench_fragment(base):
    rows = html(base, "robustbench_cifar10_Linf.html", metric="AutoAttack robust accuracy")
    assert len(rows) == 99
    top = "Adversarial Robustness Limits via Scaling-Law and Human-Alignment Studies"
    assert rows[0] == Row(1, top, 73.71)
    assert rows[1] == Row(2, "MeanSparse: Post-Training Robustness Enhancement Through Mean-Centered Feature "
                             "Sparsification", 75.28)  # ranked by the best known accuracy, not AutoAttack's
    assert rows[-1] == Row(99, "Standardly trained model", 0.0)
    assert not any("It uses" in r.system or "It adds" in r.system for r in rows)  # footers dropped
    assert html(base, "robustbench_cifar10_Linf.html", metric="Standard accuracy")[0].score == 93.68
    assert best(html(base, "robustbench_cifar10_Linf.html", metric="Best known robust accuracy")) == Row(1, top, 73.71)


# --- JS-rendered pages ------------------------------------------------------------------------------

def test_evalplus_page_is_js_rendered(base):
    with pytest.raises(ScrapeError, match="filled by JavaScript"):
        html(base, "evalplus_leaderboard.html", metric="pass@1")


def test_livecodebench_page_is_js_rendered(base):
    with pytest.raises(ScrapeError, match=r"only 'Loading leaderboard data...'.*filled by JavaScript"):
        html(base, "livecodebench_build_leaderboard.html", metric="Pass@1")


# --- data files -----------------------------------------------------------------------------------

def test_bfcl_csv(base):
    rows = data(base, "bfcl_gh-pages_data_overall.csv", metric="Overall Acc")
    assert len(rows) == 109
    assert rows[:2] == [Row(1, "Claude-Opus-4-5-20251101 (FC)", 77.47),
                        Row(2, "Claude-Sonnet-4-5-20250929 (FC)", 73.24)]
    assert rows[-1] == Row(109, "Gemma-3-1b-it (Prompt)", 7.17)
    # the 138 N/A cells are all in the two Format Sensitivity columns (69 each): 109 - 69 rows left
    delta = data(base, "bfcl_gh-pages_data_overall.csv", metric="Format Sensitivity Max Delta")
    assert len(delta) == 40 and delta[0] == Row(3, "Gemini-3-Pro-Preview (Prompt)", 8.5)


def test_evalplus_json(base):
    plus = data(base, "evalplus_results.json", metric="pass@1.humaneval+")
    assert len(plus) == 125
    assert plus[0] == Row(None, "OpenCoder-8B-Instruct", 77.4)
    assert best(plus) == Row(None, "O1 Preview (Sept 2024)", 89.0)
    mbpp = data(base, "evalplus_results.json", metric="pass@1.mbpp")
    assert len(mbpp) == 125 - 36  # 36 models have a null MBPP score
    assert "Code-13B" not in {r.system for r in mbpp}
    assert best(data(base, "evalplus_results.json", metric="pass@1.mbpp+")) == Row(None, "O1 Preview (Sept 2024)", 80.2)


def test_mteb_current_format(base):
    sci = data(base, "mteb_all-MiniLM-L6-v2_rev8b3219a_SciFact.json", records="scores.test", metric="main_score",
               system_column="hf_subset")
    assert sci == [Row(None, "default", 0.64508)]
    sts = data(base, "mteb_all-MiniLM-L6-v2_rev8b3219a_STS22.json", records="scores.test", metric="main_score",
               system_column="hf_subset")
    assert len(sts) == 18
    assert sts[0] == Row(None, "ar", 0.2263866797712348)
    assert {"es-en", "de-fr"} <= {r.system for r in sts}


def test_mteb_legacy_format(base):
    rows = data(base, "mteb_all-MiniLM-L6-v2_no_revision_available_NorwegianParliament.json", metric="main_score")
    assert rows == [Row(None, "test", 0.548), Row(None, "validation", 0.5610833333333333)]


def test_mteb_model_meta_is_not_a_leaderboard(base):
    with pytest.raises(ScrapeError, match="no record has the metric 'main_score'"):
        data(base, "mteb_all-MiniLM-L6-v2_rev8b3219a_model_meta.json", metric="main_score")


# --- feeds and conditional GET -----------------------------------------------------------------------

def test_truncated_arxiv_atom_feed(base):
    rows = rows_of(base, "arxiv_rss/rss_arxiv_org_atom_cs.AI_2025-08-20_zotero-arxiv-daily.xml", "rss",
                   metric="version", pattern=r"arXiv:(?P<system>\d{4}\.\d{4,5})v(?P<score>\d+)")
    assert len(rows) == 86  # the 87th entry is cut off before its summary
    assert rows[0] == Row(None, "2508.13167", 1.0)


def test_unchanged_page_is_not_fetched_again(base):
    url = f"{base}/leaderboard_html/firebench_README.md"
    first = scrape(url, "html_table", ScrapeOptions(metric="F1 Score"), retries=0)
    assert first.rows and first.fetched.last_modified
    again = scrape(url, "html_table", ScrapeOptions(metric="F1 Score"), validators=first.fetched.validators(),
                   retries=0)
    assert again.fetched.not_modified and again.rows is None
