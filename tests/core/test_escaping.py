"""Escaping untrusted names for Slack mrkdwn, Markdown prose, Markdown tables and HTML.

The Markdown functions are checked by rendering: whatever a hostile name holds, the rendered
text is the name as written, with no formatting, link, HTML, heading or extra table cell.
"""

from __future__ import annotations

import html
import re

import pytest

from autobench.escaping import html_text, md_cell, md_text, slack_text

HOSTILE = [
    "<!channel>", "<!here>", "<@U012AB3CD>", "<https://evil.example|click me>", "a & b <script>alert(1)</script>",
    "# Heading", "## Sub", "*bold* and _it_", "**strong**", "a*b*c", "_x_", "foo_", "`code`", "```fence",
    "[x](http://e.example)", "![img](x.png)", "C:\\dir\\", "a\\|b", "\\*", "x\\", "1. item", "1) item",
    "- item", "+ item", "* item", "---", "***", "___", "* * *", "===", "> quote", "&copy; &amp; &#169;",
    "~~struck~~", "<http://x.example>", "| a | b |", ":---|---:", "    indented code", "#1 Model",
    "snake_case_name", "2 * 3 = 6", "50% | 60%", "ünïcødé ✓ — fine", "",
]


def _md():
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").enable("table").enable("strikethrough")


def _text_of(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


# ----------------------------------------------------------------------------- Slack


def test_slack_text_escapes_the_three_control_characters():
    assert slack_text("<!channel>") == "&lt;!channel&gt;"
    assert slack_text("<@U012AB3CD>") == "&lt;@U012AB3CD&gt;"
    assert slack_text("<https://evil.example|click>") == "&lt;https://evil.example|click&gt;"
    assert slack_text("a & b") == "a &amp; b"
    assert slack_text("&lt;") == "&amp;lt;"  # an entity in a name is shown as typed, not decoded
    assert slack_text("plain *bold* _it_") == "plain *bold* _it_"  # mrkdwn has no escape for these
    assert slack_text(None) == "" and slack_text(0.5) == "0.5"


@pytest.mark.parametrize("name", HOSTILE)
def test_slack_text_never_leaves_a_control_sequence(name):
    out = slack_text(name)
    assert "<" not in out and ">" not in out
    assert re.sub(r"&(amp|lt|gt);", "", out).count("&") == 0  # every & starts one of Slack's entities
    assert html.unescape(out) == name  # Slack decodes exactly these entities: the name shows as typed


# ----------------------------------------------------------------------------- Markdown prose


@pytest.mark.parametrize("name", HOSTILE)
def test_md_text_renders_as_written(name):
    md = _md()
    rendered = md.render(md_text(name))
    if name.strip():
        assert rendered.startswith("<p>") and rendered.count("<p>") == 1, rendered  # one paragraph, no block
        body = rendered.removeprefix("<p>").removesuffix("</p>\n")
        assert "<" not in body, rendered  # no tag at all: no emphasis, code, link, HTML
    assert _text_of(rendered).strip() == name.strip()


@pytest.mark.parametrize("name", HOSTILE)
def test_md_text_inside_a_bullet_of_our_own(name):
    md = _md()
    rendered = md.render(f"- Promoted {md_text(name)} on **MemoryBench**\n")
    assert rendered.count("<li>") == 1 and rendered.count("<strong>") == 1
    assert " ".join(_text_of(rendered).split()) == " ".join(f"Promoted {name.strip()} on MemoryBench".split())


def test_md_text_stays_readable():
    assert md_text("snake_case_name") == "snake_case_name"
    assert md_text("2 * 3 = 6") == "2 * 3 = 6"
    assert md_text("C:\\dir\\file") == "C:\\dir\\file"  # a backslash before a letter escapes nothing
    assert md_text("https://x.example/a_b") == "https://x.example/a_b"
    assert md_text("AT&T") == "AT&T"  # not an entity: left alone
    assert md_text("Team 42: GPT-4o (fine-tuned)") == "Team 42: GPT-4o (fine-tuned)"


def test_md_text_neutralises_what_would_format():
    assert md_text("# Heading") == "\\# Heading"
    assert md_text("*bold*") == "\\*bold\\*"
    assert md_text("_it_") == "\\_it\\_"
    assert md_text("`x`") == "\\`x\\`"
    assert md_text("[a](b)") == "\\[a\\](b)"
    assert md_text("1. one") == "1\\. one"
    assert md_text("- item") == "\\- item"
    assert md_text("&copy;") == "\\&copy;"
    assert md_text("line one\nline two") == "line one line two"


def test_md_text_multiline_keeps_lines_and_neutralises_each_start():
    md = _md()
    text = "first line\n# not a heading\n- not a list\n> not a quote\n    not code"
    out = md_text(text, multiline=True)
    assert out.count("\n") == 4
    rendered = md.render(out)
    assert rendered.count("<p>") == 1 and "<h1>" not in rendered and "<li>" not in rendered
    assert "<blockquote>" not in rendered and "<pre>" not in rendered
    assert _text_of(rendered).split("\n")[1:4] == ["# not a heading", "- not a list", "> not a quote"]


# ----------------------------------------------------------------------------- Markdown tables


@pytest.mark.parametrize("name", HOSTILE + ["two\nlines", "cr\r\nlf", "pipe|in|name", "back\\slash|pipe"])
def test_md_cell_is_one_cell_showing_the_name(name):
    md = _md()
    table = f"| System | Score |\n|---|---|\n| {md_cell(name)} | 0.861 |\n"
    rendered = md.render(table)
    cells = re.findall(r"<td>(.*?)</td>", rendered, re.S)
    assert len(cells) == 2, rendered  # the row still has exactly two cells
    assert "<" not in cells[0], rendered  # nothing inside the cell is formatted
    expected = " ".join(name.splitlines()).strip()
    assert _text_of(cells[0]) == expected
    assert cells[1] == "0.861"


def test_md_cell_escapes_pipes_backslashes_and_line_breaks():
    assert md_cell("a|b") == "a\\|b"
    assert md_cell("a\\|b") == "a\\\\\\|b"  # the backslash is doubled, then the pipe escaped
    assert md_cell("x\\") == "x\\\\"
    assert md_cell("one\ntwo\r\nthree\u2028four") == "one two three four"
    assert md_cell("  padded  ") == "padded"
    assert "\n" not in md_cell("a\n\nb")


# ----------------------------------------------------------------------------- HTML


def test_html_text_escapes_markup_and_quotes():
    assert html_text("<script>alert('x')</script>") == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert html_text('a "quoted" & b') == "a &quot;quoted&quot; &amp; b"
    assert html_text(None) == ""


@pytest.mark.parametrize("name", HOSTILE)
def test_html_text_round_trips(name):
    out = html_text(name)
    assert not set("<>\"'") & set(out)
    assert html.unescape(out) == name
