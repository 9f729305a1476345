"""Leaderboard scrapers on pages and files of our own making, and fetching over loopback HTTP."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import loopback

from autobench.monitor.scrape import (
    REGISTRY,
    Row,
    ScrapeError,
    ScrapeOptions,
    fetch,
    get,
    names,
    scrape,
)
from autobench.monitor.scrape.api import resolve
from autobench.monitor.scrape.base import clean_name, parse_rank, parse_score


def parse(method: str, body: str | bytes, content_type: str | None = None, **opts) -> list[Row]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return get(method).parse(data, ScrapeOptions(**opts), content_type)


def table(body: str, **opts) -> list[Row]:
    return parse("html_table", body, **opts)


def systems(rows: list[Row]) -> list[str]:
    return [r.system for r in rows]


# --- shared helpers ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("86.1", 86.1), ("86.1%", 86.1), ("0.861 ± 0.004", 0.861), ("52.1±26.1", 52.1), ("86.1*", 86.1),
    (" 86.1 † ", 86.1), ("1,234.5", 1234.5), ("-3.5", -3.5), ("\u22123.5", -3.5), (".5", 0.5), ("1e-3", 0.001),
    ("🥇 91.2", 91.2), ("86.1 (0.3)", 86.1), (77, 77.0), (0.85, 0.85),
    ("-", None), ("—", None), ("N/A", None), ("n/a", None), ("", None), ("  ", None), (None, None),
    ("Unknown", None), (float("nan"), None), (True, None),
])
def test_parse_score(text, expected):
    assert parse_score(text) == expected


@pytest.mark.parametrize("text", ["abc", "3 Jun 2021", "v2"])
def test_parse_score_rejects_text(text):
    with pytest.raises(ValueError, match="not a score"):
        parse_score(text)


def test_parse_rank_and_clean_name():
    assert parse_rank("1 Jun 04, 2021") == 1
    assert parse_rank("T-3") == 3
    assert parse_rank("") is None
    assert parse_rank(2.0) == 2
    assert clean_name("🥇 \n🤠 ✅     Model A  ") == "Model A"
    assert clean_name("GPT-4*") == "GPT-4"
    assert clean_name("GPT-4 †‡") == "GPT-4"
    assert clean_name("Model [12]") == "Model"
    assert clean_name("Model¹") == "Model"
    assert clean_name("A & B") == "A & B"


# --- html_table: header shapes -------------------------------------------------------------------

THEAD = """<!doctype html><html><head><meta charset="utf-8"><title>x</title></head><body>
<h2>Leaderboard</h2>
<table class="lb">
  <thead><tr><th>Rank</th><th>Model</th><th>Accuracy</th><th>Params</th></tr></thead>
  <tbody>
    <tr><td>1</td><td>Alpha</td><td>86.1</td><td>7B</td></tr>
    <tr><td>2</td><td>Beta</td><td>85.0%</td><td>13B</td></tr>
    <tr><td>3</td><td>Gamma</td><td>0.841 ± 0.004</td><td>1B</td></tr>
  </tbody>
</table></body></html>"""


def test_thead_headers_rank_and_scores():
    rows = table(THEAD, metric="Accuracy")
    assert rows == [Row(1, "Alpha", 86.1), Row(2, "Beta", 85.0), Row(3, "Gamma", 0.841)]


def test_metric_matching_ignores_case_and_whitespace():
    assert table(THEAD, metric="  accuracy ")[0].score == 86.1
    assert table(THEAD, metric="ACC URACY")[0].score == 86.1


def test_first_row_th_headers_without_thead():
    page = """<table><tr><th>#</th><th>System</th><th>EM</th><th>F1</th></tr>
    <tr><td>1</td><td>Alpha</td><td>80.5</td><td>88.0</td></tr>
    <tr><td>2</td><td>Beta</td><td>79.0</td><td>87.5</td></tr></table>"""
    rows = table(page, metric="F1")
    assert rows == [Row(1, "Alpha", 88.0), Row(2, "Beta", 87.5)]
    assert table(page, metric="EM")[1] == Row(2, "Beta", 79.0)


def test_title_row_above_the_header_row():
    page = """<table><tr><th colspan="3">Leaderboard (updated daily)</th></tr>
    <tr><th>Rank</th><th>Model</th><th><button>Score</button></th></tr>
    <tr><td>1</td><td>Alpha <span class="candidate">v2</span></td><td>9.5</td></tr></table>"""
    assert table(page, metric="Score") == [Row(1, "Alpha v2", 9.5)]
    assert table(page, metric="Leaderboard (updated daily) Score") == [Row(1, "Alpha v2", 9.5)]


def test_td_used_as_header_cells():
    page = """<table><tr><td><b>Model</b></td><td><b>Score</b></td></tr>
    <tr><td>Alpha</td><td>70.1</td></tr><tr><td>Beta</td><td>69.9</td></tr></table>"""
    rows = table(page, metric="Score")
    assert rows == [Row(None, "Alpha", 70.1), Row(None, "Beta", 69.9)]


TWO_ROW = """<table>
<thead>
  <tr><th rowspan="2">Rank</th><th rowspan="2">Model</th><th colspan="2">Answer</th><th colspan="2">Joint</th></tr>
  <tr><th>EM</th><th>F<sub>1</sub></th><th>EM</th><th>F<sub>1</sub></th></tr>
</thead>
<tbody>
  <tr><td>1</td><td>Alpha</td><td>70.0</td><td>80.0</td><td>50.0</td><td>60.5</td></tr>
  <tr><td>2</td><td>Beta</td><td>69.0</td><td>79.0</td><td>49.0</td><td>61.0</td></tr>
</tbody></table>"""


def test_two_row_header_with_rowspan_and_colspan():
    rows = table(TWO_ROW, metric="Joint F1")
    assert rows == [Row(1, "Alpha", 60.5), Row(2, "Beta", 61.0)]
    assert table(TWO_ROW, metric="Answer EM")[0] == Row(1, "Alpha", 70.0)
    assert table(TWO_ROW, metric="jointf1")[1].score == 61.0


def test_two_row_header_without_thead():
    page = TWO_ROW.replace("<thead>", "").replace("</thead>", "").replace("<tbody>", "").replace("</tbody>", "")
    assert table(page, metric="Joint F1")[0] == Row(1, "Alpha", 60.5)


def test_ambiguous_level_name_is_an_error():
    with pytest.raises(ScrapeError, match=r"several columns.*'Answer F 1'.*'Joint F 1'"):
        table(TWO_ROW, metric="F1")


def test_br_and_sub_inside_headers():
    page = """<table><thead><tr><th>Method</th><th>Standard<br/>accuracy</th>
    <th>AutoAttack<br/>
        robust<br/>accuracy</th><th>F<sub>1</sub> Score</th></tr></thead>
    <tbody><tr><td>Alpha</td><td>93.68%</td><td>73.71%</td><td>52.1<sub>±26.1</sub></td></tr></tbody></table>"""
    assert table(page, metric="Standard accuracy") == [Row(None, "Alpha", 93.68)]
    assert table(page, metric="AutoAttack robust accuracy") == [Row(None, "Alpha", 73.71)]
    assert table(page, metric="F1 Score") == [Row(None, "Alpha", 52.1)]


def test_header_cells_wrapping_divs_and_links():
    page = """<table><thead><tr><th><div class="sticky">Model</div></th>
    <th><div class="sticky"><a href="#">% Resolved</a></div></th></tr></thead>
    <tbody><tr><td><p class="model-type">Agent X</p></td><td><p class="number">29.38</p></td></tr></tbody></table>"""
    assert table(page, metric="% Resolved") == [Row(None, "Agent X", 29.38)]


# --- html_table: table choice ---------------------------------------------------------------------

NESTED = """<p>Intro</p>
<table>
  <tr>
    <td><img src="x.png"/> Workflow picture</td>
    <td>
<table>
  <thead><tr><th>#</th><th>Agent</th><th>Prec.</th><th>F<sub>1</sub> Score</th></tr></thead>
  <tbody>
    <tr><td>1</td><td>CC<sub>Sonnet-4</sub></td><td><b>52.1</b><sub>±26.1</sub></td><td><b>46.7</b><sub>±23.4</sub></td></tr>
    <tr><td>2</td><td>OH<sub>gpt-5</sub></td><td>41.7<sub>±22.7</sub></td><td>37.9<sub>±23.0</sub></td></tr>
  </tbody>
</table>
    </td>
  </tr>
</table>"""


def test_nested_layout_table_resolves_to_the_inner_table():
    expected = [Row(1, "CC Sonnet-4", 46.7), Row(2, "OH gpt-5", 37.9)]
    assert table(NESTED, metric="F1 Score") == expected
    assert table(NESTED, metric="F1 Score", table=1) == expected  # the layout table
    assert table(NESTED, metric="F1 Score", table=2) == expected


def test_outer_table_rows_exclude_nested_rows():
    page = """<table><tr><th>Model</th><th>Score</th></tr>
    <tr><td>Outer A</td><td>10</td></tr>
    <tr><td>Outer B <table><tr><th>Model</th><th>Score</th></tr><tr><td>Inner</td><td>99</td></tr></table></td>
        <td>20</td></tr></table>"""
    assert table(page, metric="Score") == [Row(None, "Outer A", 10.0), Row(None, "Outer B", 20.0)]
    assert table(page, metric="Score", table=2) == [Row(None, "Inner", 99.0)]


TABBED = """<div class="tabs"><button>Full</button><button>Lite</button></div>
<div class="tabcontent" id="lb-Full"><table><thead><tr><th>Model</th><th>% Resolved</th></tr></thead>
<tbody><tr><td>Full A</td><td>29.38</td></tr><tr><td>Full B</td><td>24.89</td></tr></tbody></table></div>
<div class="tabcontent" id="lb-Lite"><table><thead><tr><th>Model</th><th>% Resolved</th></tr></thead>
<tbody><tr><td>Lite A</td><td>55.0</td></tr></tbody></table></div>"""


def test_tabbed_page_first_matching_table_and_table_option():
    assert systems(table(TABBED, metric="% Resolved")) == ["Full A", "Full B"]
    assert table(TABBED, metric="% Resolved", table=2) == [Row(None, "Lite A", 55.0)]
    with pytest.raises(ScrapeError, match="table 3 asked for, but the page's tables number 2"):
        table(TABBED, metric="% Resolved", table=3)


def test_css_selector_option():
    assert table(TABBED, metric="% Resolved", selector="#lb-Lite") == [Row(None, "Lite A", 55.0)]
    assert table(TABBED, metric="% Resolved", selector="#lb-Lite table") == [Row(None, "Lite A", 55.0)]
    assert systems(table(TABBED, metric="% Resolved", selector="div.tabcontent", table=2)) == ["Lite A"]
    with pytest.raises(ScrapeError, match="matches nothing"):
        table(TABBED, metric="% Resolved", selector="#nope")
    with pytest.raises(ScrapeError, match="matches no table"):
        table(TABBED, metric="% Resolved", selector="div.tabs")


def test_first_table_naming_the_metric_is_chosen():
    page = """<table><tr><th>Dataset</th><th>Size</th></tr><tr><td>A</td><td>100</td></tr></table>
    <table><tr><th>Model</th><th>BLEU</th></tr><tr><td>Alpha</td><td>33.3</td></tr></table>"""
    assert table(page, metric="BLEU") == [Row(None, "Alpha", 33.3)]


# --- html_table: cells ----------------------------------------------------------------------------

RANK_DATE = """<table class="table performanceTable"><tr><th>Rank</th><th>Model</th><th>EM</th><th>F1</th></tr>
<tr class="human-row"><td></td><td>Human Performance<p class="institution">Stanford University</p>
  <a href="http://arxiv.org/abs/1606.05250">(Rajpurkar &amp; Jia et al. '18)</a></td><td>86.831</td><td>89.452</td></tr>
<tr><td> <p>1</p><span class="date label label-default">Jun 04, 2021</span></td>
  <td style="word-break:break-word;"><a class="link" href="https://x">IE-Net (ensemble)</a>
  <p class="institution">RICOH_SRCB_DML</p></td><td><b>90.939</b></td><td><b>93.214</b></td></tr>
<tr><td> <p>2</p><span class="date label label-default">Feb 21, 2021</span></td>
  <td><a class="link" href="https://y">LUKE (single model)</a><p class="institution">Studio Ousia &amp; NAIST</p>
  <a class="link" href="https://arxiv.org/abs/2010.01057">https://arxiv.org/abs/2010.01057</a></td>
  <td>90.871</td><td>93.183</td></tr>
<tr><td> <p>2</p><span class="date label label-default">October 17, 2023</span></td>
  <td>
     MiniSeek
     <p class="institution">Anonymous</p>
     <span>Code and paper coming soon</span>
  </td><td>90.5</td><td>93.0</td></tr>
</table>"""


def test_rank_cells_with_dates_ties_and_institutions():
    rows = table(RANK_DATE, metric="F1")
    assert rows == [Row(None, "Human Performance", 89.452), Row(1, "IE-Net (ensemble)", 93.214),
                    Row(2, "LUKE (single model)", 93.183), Row(2, "MiniSeek", 93.0)]


def test_emoji_footnotes_and_entities_in_names():
    page = """<table><thead><tr><th>Model</th><th>Score</th><th>Site</th></tr></thead><tbody>
    <tr><td><p class="model-type">\n🥇 \n🤠 ✅                         OpenHands + CodeAct v2.1
    </p></td><td>29.38</td><td><a href="#">🔗</a></td></tr>
    <tr><td>Model B*</td><td>20</td><td><a href="#">🔗</a></td></tr>
    <tr><td>Model C<sup>†</sup></td><td>19</td><td>-</td></tr>
    <tr><td>Model D [1]</td><td>18</td><td>-</td></tr>
    <tr><td><a href="#">Model E</a><br><span class="td-footer">It uses 300M synthetic images.</span></td>
        <td>17</td><td>-</td></tr>
    <tr><td>W&amp;B Programmer</td><td>16</td><td>-</td></tr>
    <tr><td>CC<sub>Sonnet-4</sub></td><td>15</td><td>-</td></tr>
    </tbody></table>"""
    assert systems(table(page, metric="Score")) == [
        "OpenHands + CodeAct v2.1", "Model B", "Model C", "Model D", "Model E", "W&B Programmer", "CC Sonnet-4"]


def test_each_score_format():
    cells = ["86.1", "86.1%", "0.861 ± 0.004", "52.1±26.1", "<b>86.1</b>", "86.1*", "52.1<sub>±26.1</sub>",
             "<p class='number'>29.38</p>", " 1,234.5 ", "<span>&minus;1.5</span>"]
    body = "".join(f"<tr><td>S{i}</td><td>{c}</td></tr>" for i, c in enumerate(cells))
    page = f"<table><tr><th>Model</th><th>Score</th></tr>{body}</table>"
    assert [r.score for r in table(page, metric="Score")] == [86.1, 86.1, 0.861, 52.1, 86.1, 86.1, 52.1, 29.38,
                                                               1234.5, -1.5]


def test_missing_scores_leave_the_row_out():
    page = """<table><tr><th>Model</th><th>Dev</th><th>Test</th></tr>
    <tr><td>A</td><td>80.3</td><td>81.5</td></tr>
    <tr><td>B</td><td>-</td><td>74.0</td></tr>
    <tr><td>C</td><td>N/A</td><td>73.9</td></tr>
    <tr><td>D</td><td></td><td>73.1</td></tr>
    <tr><td>E</td><td>—</td><td>72.0</td></tr></table>"""
    assert table(page, metric="Dev") == [Row(None, "A", 80.3)]
    assert len(table(page, metric="Test")) == 5


def test_system_column_guess_skips_numbers_and_option_overrides():
    page = """<table><tr><th>ID</th><th>Team</th><th>Model</th><th>Score</th></tr>
    <tr><td>17</td><td>Lab One</td><td>Alpha</td><td>50</td></tr>
    <tr><td>18</td><td>Lab Two</td><td>Beta</td><td>40</td></tr></table>"""
    assert systems(table(page, metric="Score")) == ["Lab One", "Lab Two"]  # first mostly-text column
    assert systems(table(page, metric="Score", system_column="model")) == ["Alpha", "Beta"]
    assert all(r.rank is None for r in table(page, metric="Score"))  # "ID" is not a rank column
    with pytest.raises(ScrapeError, match="no column 'Method'"):
        table(page, metric="Score", system_column="Method")


def test_place_column_is_a_rank_column_and_rowspan_in_body():
    page = """<table><tr><th>Place</th><th>Model</th><th>Score</th></tr>
    <tr><td rowspan="2">1</td><td>A</td><td>9</td></tr><tr><td>B</td><td>9</td></tr>
    <tr><td>3</td><td>C</td><td>8</td></tr></table>"""
    assert table(page, metric="Score") == [Row(1, "A", 9.0), Row(1, "B", 9.0), Row(3, "C", 8.0)]


def test_malformed_markup_loses_no_row():
    page = """<table><tr><th>Model<th>Score
    <tr><td>Alpha<td>1.5
    <tr><td>Beta<td><b>2.5</td>
    <tr><td>Gamma<td>3.5</table>"""
    assert table(page, metric="Score") == [Row(None, "Alpha", 1.5), Row(None, "Beta", 2.5),
                                           Row(None, "Gamma", 3.5)]


def test_markdown_front_matter_and_fragment():
    md = ("---\nlayout: spider\npermalink: spider\n---\n\n# Title\n\nSome *markdown*.\n\n"
          "<table><tr><th>Rank</th><th>Model</th><th>Test</th></tr>"
          "<tr><td><p>1</p><span class='date'>Nov 2, 2023</span></td><td>MiniSeek</td><td>91.2</td></tr></table>\n")
    assert table(md, metric="Test") == [Row(1, "MiniSeek", 91.2)]
    fragment = "<table id='x'><thead><tr><th>Method</th><th>Acc</th></tr></thead><tbody>" \
               "<tr><td>A</td><td>93.68%</td></tr></tbody></table>"
    assert table(fragment, metric="Acc") == [Row(None, "A", 93.68)]


README_PIPES = """---
title: Leaderboard
---
# MemoryBench

Results on the **test** split. A rule is not a table:

---

| Rank | Model | Org | Accuracy (%) | Date |
|:----:|-------|-----|-------------:|------|
| 1 | [CompetitorA](https://example.org/a) | Lab A | **84.7** | 2026-01-02 |
| 2 | CompetitorB <sup>†</sup> | Lab \\| B | 83.9% | 2026-01-03 |
| 3 | `OurSystem-v2` | us | 82.3 ± 0.4 | 2026-01-04 |
| 4 | Baseline | - | - | 2025-12-01 |

## Efficiency

Model | Latency (ms)
--- | ---
CompetitorA | 12.0
OurSystem | 9.5
"""


def test_markdown_pipe_tables_in_a_readme():
    """A GitHub README's GFM tables: links, bold, `code`, an escaped pipe and footnotes read as
    GitHub shows them; the table is found by its metric, or by its number."""
    assert table(README_PIPES, metric="Accuracy (%)") == [Row(1, "CompetitorA", 84.7), Row(2, "CompetitorB", 83.9),
                                                          Row(3, "OurSystem-v2", 82.3)]
    assert table(README_PIPES, metric="Latency (ms)") == [Row(None, "CompetitorA", 12.0), Row(None, "OurSystem", 9.5)]
    assert table(README_PIPES, metric="Latency (ms)", table=2, system_column="Model")[1] == Row(None, "OurSystem", 9.5)
    served = parse("html_table", README_PIPES.encode(), "text/markdown; charset=utf-8", metric="Accuracy (%)")
    assert [r.system for r in served] == ["CompetitorA", "CompetitorB", "OurSystem-v2"]
    with pytest.raises(ScrapeError, match=r"no table names the metric 'F1'; saw table 1 \[Rank, Model, Org, "):
        table(README_PIPES, metric="F1")
    with pytest.raises(ScrapeError):  # no table at all: prose with a rule and a code line
        table("# Title\n\nNo results yet.\n\n---\n\n    | a | b |\n", metric="Accuracy")


def test_declared_charset_and_undeclared_utf8():
    page = "<table><tr><th>Model</th><th>Score</th></tr><tr><td>Café ±</td><td>1.0±0.1</td></tr></table>"
    assert table(page.encode("utf-8"), metric="Score") == [Row(None, "Café ±", 1.0)]
    latin = page.encode("latin-1")
    assert parse("html_table", latin, "text/html; charset=ISO-8859-1", metric="Score") == [Row(None, "Café ±", 1.0)]


# --- html_table: errors ---------------------------------------------------------------------------

def test_js_rendered_empty_table_is_an_error():
    page = """<table id="lb"><thead><tr><th>Rank</th><th>Model</th><th>Pass@1</th></tr></thead>
    <tbody id="tableBody"></tbody></table><script>fill()</script>"""
    with pytest.raises(ScrapeError, match="filled by JavaScript"):
        table(page, metric="Pass@1")


@pytest.mark.parametrize("placeholder", ['<td colspan="3">Loading leaderboard data...</td>',
                                         "<td></td><td>Loading…</td><td></td>"])
def test_js_rendered_loading_row_is_an_error(placeholder):
    page = f"""<table><thead><tr><th>Rank</th><th>Model</th><th>Pass@1</th></tr></thead>
    <tbody><tr>{placeholder}</tr></tbody></table>"""
    with pytest.raises(ScrapeError, match=r"filled by JavaScript") as err:
        table(page, metric="Pass@1")
    assert "Loading" in str(err.value)
    assert "\n" not in str(err.value)


def test_tables_without_rows_at_all_are_an_error():
    page = """<table id="plused" class="table"></table><table id="origin"></table><script>x()</script>"""
    with pytest.raises(ScrapeError, match="filled by JavaScript"):
        table(page, metric="pass@1")


def test_no_table_naming_the_metric_lists_the_headers():
    with pytest.raises(ScrapeError, match=r"no table names the metric 'BLEU'; saw table 1 \[Rank, Model, Accuracy, "
                                          r"Params\]"):
        table(THEAD, metric="BLEU")
    with pytest.raises(ScrapeError, match="no <table> on the page"):
        table("<p>nothing</p>", metric="BLEU")


def test_no_score_in_any_row_is_an_error():
    page = "<table><tr><th>Model</th><th>Score</th></tr><tr><td>A</td><td>soon</td></tr>" \
           "<tr><td>B</td><td>-</td></tr></table>"
    with pytest.raises(ScrapeError, match=r"has a score in column 'Score' \(cells: 'soon', '-'\)"):
        table(page, metric="Score")


# --- api ------------------------------------------------------------------------------------------

DOC = {
    "leaderboards": [
        {"name": "Test", "results": [{"name": "A", "resolved": 29.38, "rank": 1}, {"name": "B", "resolved": None}]},
        {"name": "Verified", "results": [{"name": "V1", "resolved": "64.6%"}, {"name": "V2", "resolved": "N/A"},
                                         {"name": "V3", "resolved": "0.85"}]},
    ],
}


def js(obj) -> bytes:
    import json

    return json.dumps(obj).encode()


def test_api_named_group_selection():
    rows = parse("api", js(DOC), "application/json", metric="resolved", records="leaderboards[name=Verified].results")
    assert rows == [Row(None, "V1", 64.6), Row(None, "V3", 0.85)]
    rows = parse("api", js(DOC), metric="resolved", records="leaderboards[name=test].results")  # case-folded
    assert rows == [Row(1, "A", 29.38)]
    assert parse("api", js(DOC), metric="resolved", records="leaderboards[1].results")[0].system == "V1"
    assert parse("api", js(DOC), metric="resolved", records="leaderboards.1.results")[0].system == "V1"


def test_api_missing_records_path_says_where_it_stops():
    with pytest.raises(ScrapeError, match=r"records path 'leaderboards\[name=Nope\].results' not found: "
                                          r"leaderboards is a list of 2 \(names: Test, Verified\)"):
        parse("api", js(DOC), metric="resolved", records="leaderboards[name=Nope].results")


def test_api_dict_keyed_records_and_literal_keys_with_dots_and_plus():
    doc = {"M1": {"pass@1": {"humaneval": 81.7, "humaneval+": 77.4, "mbpp": None}, "acc.top1": 0.7,
                  "meta": {"display": "Model One"}},
           "M2": {"pass@1": {"humaneval": 50.0, "humaneval+": 45.0, "mbpp": 60.0}, "acc.top1": "0.6",
                  "meta": {"display": "Model Two"}}}
    assert parse("api", js(doc), metric="pass@1.humaneval+") == [Row(None, "M1", 77.4), Row(None, "M2", 45.0)]
    assert parse("api", js(doc), metric="pass@1.mbpp") == [Row(None, "M2", 60.0)]
    assert parse("api", js(doc), metric="acc.top1") == [Row(None, "M1", 0.7), Row(None, "M2", 0.6)]
    assert systems(parse("api", js(doc), metric="acc.top1", system_column="meta.display")) == ["Model One",
                                                                                               "Model Two"]
    assert resolve({"a.b": {"c": 1}, "a": {"b": {"c": 2}}}, "a.b.c") == 1  # the longest literal key wins
    assert resolve({"a": {"b": {"c": 2}}}, "a.b.c") == 2


def test_api_list_records_default_name_field_and_errors():
    recs = [{"Model": "A", "score": 1}, {"Model": "B", "score": 2}]
    assert systems(parse("api", js(recs), metric="score")) == ["A", "B"]
    with pytest.raises(ScrapeError, match="set system_column"):
        parse("api", js([{"x": "A", "score": 1}]), metric="score")
    with pytest.raises(ScrapeError, match="no record has the metric 'bleu'"):
        parse("api", js(recs), metric="bleu")
    with pytest.raises(ScrapeError, match="missing"):
        parse("api", js([{"name": "A", "s": None}]), metric="s")
    with pytest.raises(ScrapeError, match="not valid JSON"):
        parse("api", b"{oops", "application/json", metric="s")
    with pytest.raises(ScrapeError, match="not a list or an object"):
        parse("api", js({"a": 3}), metric="s", records="a")


CSV = """Rank,Overall Acc,Model,Latency (s),Delta
1,77.47%,Claude (FC),3.1,N/A
2,73.24%,Gemini (Prompt),N/A,4.5
3,N/A,Broken,1.0,N/A
"""


def test_api_csv_by_content_type_and_by_sniffing():
    expected = [Row(1, "Claude (FC)", 77.47), Row(2, "Gemini (Prompt)", 73.24)]
    assert parse("api", CSV, "text/csv; charset=utf-8", metric="Overall Acc") == expected
    assert parse("api", CSV, None, metric="overall acc") == expected
    assert parse("api", CSV, None, metric="Delta") == [Row(2, "Gemini (Prompt)", 4.5)]
    semi = CSV.replace(",", ";")
    assert parse("api", semi, "text/plain", metric="Overall Acc") == expected
    with pytest.raises(ScrapeError, match="no CSV column 'BLEU'.*columns: Rank, Overall Acc, Model"):
        parse("api", CSV, metric="BLEU")


def test_api_csv_guesses_a_text_system_column():
    text = "id,who,score\n1,Alpha,3\n2,Beta,4\n"
    assert parse("api", text, metric="score") == [Row(None, "Alpha", 3.0), Row(None, "Beta", 4.0)]


# --- rss ------------------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Results</title>
<item><title>GPT-X reaches 91.2 on the benchmark</title><description>new SOTA</description></item>
<item><title>Weekly news</title><description>&lt;p&gt;Model &lt;b&gt;Zeta&lt;/b&gt; reaches 88.5% accuracy&lt;/p&gt;</description></item>
<item><title>Conference announced</title><description>nothing to see</description></item>
</channel></rss>"""  # noqa: E501

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Results</title>
<entry><title>Alpha: accuracy 70.5</title><summary>...</summary></entry>
<entry><title>Alpha: latency 12</title><summary>...</summary></entry>
<entry><title>Beta: accuracy 68.0</title><summary>...</summary></entry>
<entry><title>Gamma: accuracy 60"""  # truncated mid-entry


def test_rss_title_then_description():
    rows = parse("rss", RSS, metric="accuracy", pattern=r"(?:Model )?(?P<system>\S+) reaches (?P<score>[\d.]+)")
    assert rows == [Row(None, "GPT-X", 91.2), Row(None, "Zeta", 88.5)]


def test_atom_truncated_feed_with_metric_group():
    rows = parse("rss", ATOM, metric="Accuracy", pattern=r"(?P<system>\w+): (?P<metric>\w+) (?P<score>[\d.]+)")
    assert rows[:2] == [Row(None, "Alpha", 70.5), Row(None, "Beta", 68.0)]
    assert "Alpha" not in systems(rows[2:])  # the latency item is skipped


def test_rss_errors():
    with pytest.raises(ScrapeError, match="needs a pattern"):
        parse("rss", RSS, metric="x")
    with pytest.raises(ScrapeError, match="lacks the named group"):
        parse("rss", RSS, metric="x", pattern=r"(?P<system>\w+)")
    with pytest.raises(ScrapeError, match="no item of the feed"):
        parse("rss", RSS, metric="x", pattern=r"(?P<system>\w+) scored (?P<score>\d+)")
    with pytest.raises(ScrapeError, match="not an RSS or Atom feed"):
        parse("rss", "<html><p>hi</p></html>", metric="x", pattern=r"(?P<system>\w+)(?P<score>\d)")


# --- manual ---------------------------------------------------------------------------------------

def test_manual_entries_and_mapping():
    doc = "entries:\n  - {system: GPT-4, score: 86.1, rank: 1}\n  - {system: Ours, score: '85.0%'}\n" \
          "  - {system: Pending, score: null}\n"
    assert parse("manual", doc, metric="acc") == [Row(1, "GPT-4", 86.1), Row(None, "Ours", 85.0)]
    assert parse("manual", "GPT-4: 86.1\nOurs: 85\n", metric="acc") == [Row(None, "GPT-4", 86.1),
                                                                          Row(None, "Ours", 85.0)]


@pytest.mark.parametrize(("doc", "message"), [
    ("entries:\n  - {score: 1}\n", r"entries\[0\]: system is missing"),
    ("entries:\n  - {system: A}\n", r"entries\[0\] \(A\): score is missing"),
    ("entries:\n  - {system: A, score: lots}\n", r"entries\[0\] \(A\): score: not a score: 'lots'"),
    ("entries:\n  - {system: A, score: 1, rank: first}\n", "rank must be a whole number"),
    ("entries: 3\n", "must be a list"),
    ("just text\n", "expected"),
    ("a: [1\n", "not valid YAML"),
    ("{}\n", "no entry has a score"),
])
def test_manual_errors(doc, message):
    with pytest.raises(ScrapeError, match=message):
        parse("manual", doc, metric="acc")


# --- registry -------------------------------------------------------------------------------------

def test_get_and_methods():
    assert names() == REGISTRY.names() == ("html_table", "api", "rss", "manual")
    assert [get(m).method for m in names()] == list(names())
    with pytest.raises(ValueError, match="unknown scrape method 'pdf' .choose from html_table, api, rss, manual"):
        get("pdf")


def test_a_method_registered_at_runtime_is_valid_in_the_registry_and_scrapes(tmp_path: Path):
    """A new scrape method is one class and one registration: the registry's schema takes its
    name, and a scrape uses it."""
    from autobench import schemas
    from autobench.monitor.scrape.base import Scraper

    class LinesScraper(Scraper):  # "name=score" per line
        method = "lines"

        def parse(self, body, options, content_type=None):
            pairs = [line.split("=") for line in body.decode().splitlines() if "=" in line]
            return [Row(i, name.strip(), float(score)) for i, (name, score) in enumerate(pairs, 1)]

    (tmp_path / "board.txt").write_text("ours = 0.8\nrival = 0.9\n")
    board = {"name": "B", "url": "board.txt", "scrape_method": "lines", "primary_metric": "acc"}
    with pytest.raises(ValueError, match="unknown scrape method 'lines'"):
        schemas.Leaderboard.model_validate(board)
    REGISTRY.register("lines", LinesScraper)
    try:
        assert schemas.Leaderboard.model_validate(board).scrape_method == "lines"
        got = scrape("board.txt", "lines", ScrapeOptions(metric="acc"), home=tmp_path)
        assert got.rows == [Row(1, "ours", 0.8), Row(2, "rival", 0.9)]
    finally:
        REGISTRY.unregister("lines")


def test_import_is_cheap():
    code = "import sys, autobench.monitor.scrape; print(sorted(m for m in ('bs4', 'requests', 'yaml', 'html5lib') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# --- fetch: files ---------------------------------------------------------------------------------

def test_fetch_file_url_relative_path_and_sha256(tmp_path: Path):
    (tmp_path / "lb").mkdir()
    page = tmp_path / "lb" / "board.html"
    page.write_text(THEAD)
    a = fetch("lb/board.html", tmp_path)
    assert a.body == THEAD.encode() and a.content_type == "text/html" and not a.not_modified
    b = fetch(page.as_uri(), None)
    assert b.body == a.body and b.sha256 == a.sha256
    c = fetch(str(page), None, {"sha256": a.sha256})
    assert c.not_modified and c.body is None
    page.write_text(THEAD.replace("86.1", "87.0"))
    d = fetch("lb/board.html", tmp_path, a.validators())
    assert not d.not_modified and b"87.0" in d.body


def test_fetch_file_errors(tmp_path: Path):
    with pytest.raises(ScrapeError, match="no such file"):
        fetch("missing.html", tmp_path)
    with pytest.raises(ScrapeError, match="needs the state folder"):
        fetch("relative.html", None)
    with pytest.raises(ScrapeError, match="unsupported URL scheme 'ftp'"):
        fetch("ftp://example.org/x", None)
    big = tmp_path / "big.json"
    big.write_bytes(b"0" * 2000)
    with pytest.raises(ScrapeError, match="over the 1000-byte limit"):
        fetch("big.json", tmp_path, max_bytes=1000)


def test_scrape_file_then_not_modified(tmp_path: Path):
    (tmp_path / "board.html").write_text(THEAD)
    first = scrape("board.html", "html_table", ScrapeOptions(metric="Accuracy"), home=tmp_path)
    assert first.rows is not None and first.rows[0] == Row(1, "Alpha", 86.1)
    again = scrape("board.html", "html_table", ScrapeOptions(metric="Accuracy"), home=tmp_path,
                   validators=first.fetched.validators())
    assert again.rows is None and again.fetched.not_modified
    with pytest.raises(ScrapeError, match=r"^board.html: no table names the metric 'BLEU'"):
        scrape("board.html", "html_table", ScrapeOptions(metric="BLEU"), home=tmp_path)
    with pytest.raises(ValueError, match="unknown scrape method"):
        scrape("board.html", "pdf", ScrapeOptions(metric="x"), home=tmp_path)


# --- fetch: loopback HTTP -------------------------------------------------------------------------

class _State:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def hit(self, path: str) -> int:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            return self.hits[path]


BODY = THEAD.encode()


def _handler(state: _State):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                 length: bool = True) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            n = state.hit(self.path)
            state.headers.append(dict(self.headers.items()))
            if self.path == "/etag":
                if self.headers.get("If-None-Match") == '"v1"':
                    self.send(304, headers={"ETag": '"v1"'})
                else:
                    self.send(200, BODY, {"ETag": '"v1"', "Content-Type": "text/html; charset=utf-8",
                                          "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"})
            elif self.path == "/flaky":
                self.send(500, b"oops") if n == 1 else self.send(200, BODY, {"Content-Type": "text/html"})
            elif self.path == "/busy":
                self.send(429, b"slow down", {"Retry-After": "0"}) if n == 1 else self.send(200, BODY)
            elif self.path == "/down":
                self.send(503, b"down")
            elif self.path == "/big":
                self.send(200, b"x" * 5000)
            elif self.path == "/big-stream":  # no Content-Length: the cap must hold while streaming
                self.send(200, b"x" * 300_000, length=False)
            elif self.path == "/slow":
                time.sleep(2)
                self.send(200, BODY)
            else:
                self.send(404, b"not found")

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, _State]]:
    state = _State()
    with loopback(_handler(state)) as httpd:
        yield httpd.base, state


def test_conditional_get_304_is_not_modified_and_not_parsed(server):
    base, state = server
    first = scrape(f"{base}/etag", "html_table", ScrapeOptions(metric="Accuracy"), backoff=0.01)
    assert first.rows is not None and len(first.rows) == 3
    assert first.fetched.etag == '"v1"' and first.fetched.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert first.fetched.content_type == "text/html; charset=utf-8"
    second = scrape(f"{base}/etag", "html_table", ScrapeOptions(metric="Accuracy"),
                    validators=first.fetched.validators(), backoff=0.01)
    assert second.fetched.not_modified and second.fetched.body is None and second.rows is None
    sent = state.headers[-1]
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert sent["User-Agent"].startswith("autobench/") and "leaderboard monitor" in sent["User-Agent"]


def test_same_sha256_without_validators_is_not_modified(server):
    base, _ = server
    first = fetch(f"{base}/big", None)
    again = fetch(f"{base}/big", None, {"sha256": first.sha256})
    assert again.not_modified and again.body is None


def test_retries_on_500_then_200(server):
    base, state = server
    got = fetch(f"{base}/flaky", None, retries=2, backoff=0.01)
    assert got.body == BODY and state.hits["/flaky"] == 2


def test_retries_on_429(server):
    base, state = server
    assert fetch(f"{base}/busy", None, retries=1, backoff=0.01).body == BODY
    assert state.hits["/busy"] == 2


def test_gives_up_after_retries(server):
    base, state = server
    with pytest.raises(ScrapeError, match=r"failed after 3 attempts: HTTP 503"):
        fetch(f"{base}/down", None, retries=2, backoff=0.01)
    assert state.hits["/down"] == 3


def test_404_is_an_error_naming_status_and_url(server):
    base, state = server
    with pytest.raises(ScrapeError, match=rf"HTTP 404 .*{base}/nope"):
        fetch(f"{base}/nope", None, retries=3, backoff=0.01)
    assert state.hits["/nope"] == 1  # no retry on a 404


def test_size_cap(server):
    base, _ = server
    with pytest.raises(ScrapeError, match="over the 1000-byte limit"):
        fetch(f"{base}/big", None, max_bytes=1000)
    with pytest.raises(ScrapeError, match="over the 100000-byte limit .stopped reading"):
        fetch(f"{base}/big-stream", None, max_bytes=100_000)
    assert len(fetch(f"{base}/big", None, max_bytes=5000).body) == 5000


def test_timeout(server):
    base, _ = server
    with pytest.raises(ScrapeError, match=r"failed after 2 attempts: timed out after 0.2 s"):
        fetch(f"{base}/slow", None, timeout=0.2, retries=1, backoff=0.01)


def test_connection_refused_is_an_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ScrapeError, match="connection failed"):
        fetch(f"http://127.0.0.1:{port}/x", None, retries=0)
