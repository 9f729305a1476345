"""The weekly digest (seed format), the technical log, escalation briefs, and escaping."""

from __future__ import annotations

import json
import re

import pytest
from conftest import run_cli
from test_decide import candidate_runs, production_runs

from autobench.clock import parse_now
from autobench.decide import decide
from autobench.demo.fake_slack import FakeSlack
from autobench.leaderboard_monitor import run_cycle
from autobench.schemas import REGISTRY
from autobench.weekly_digest import build, run

MONDAY = parse_now("2026-01-05T06:00:00Z")
DECIDED = parse_now("2026-01-07T08:00:00Z")
DIGEST = parse_now("2026-01-12T09:00:00Z")


@pytest.fixture
def week(store):
    """A week: two monitor cycles (a competitor moves), one promotion, one rejection."""
    run_cycle(store, MONDAY, "m1")
    page = store.home / "pages" / "memorybench.html"
    page.write_text(page.read_text().replace("<td>0.847</td>", "<td>0.861</td>"))
    run_cycle(store, parse_now("2026-01-06T06:00:00Z"), "m2")
    production_runs(store)
    # H-001 first: once H-002 is promoted, H-001's config (production + its patch) is a new one
    candidate_runs(store, "H-001", {1: -0.0021, 2: -0.0012, 3: -0.0019}, fast_gain=0.0)
    decide(store, "H-001", DECIDED)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    decide(store, "H-002", DECIDED)
    return store


def test_the_digest_follows_the_seeds_format(week):
    result = run(week, DIGEST)
    md = result["markdown"]
    assert md.splitlines()[0] == "# Benchmark Digest — Week of 2026-01-05"
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections == ["## Competitive Position", "## What Changed This Week", "## Next Actions (Automated)",
                        "## Experiments Run This Week"]
    assert "- MemoryBench: #3 ⚠️ (our score: 0.823 | gap to #1: -0.038)" in md
    assert "- LongContextEval: #2 ⚠️ (our score: 0.791 | gap to #1: -0.021)" in md
    assert re.search(r"- Promoted H-002 \(A wider model stores more key-value pairs\): \+0\.009 on MemoryBench", md)
    assert "- CompetitorA improved MemoryBench to 0.861" in md
    assert "- Research ingest scheduled for Monday" in md
    assert md.rstrip().endswith("- 2 experiments completed | 0 failed fast validation | 1 promoted")
    assert (week.home / "digests" / "2026-01-05.md").read_text() == md
    assert result["blocks"][0]["type"] == "header"


def test_the_technical_log_explains_every_decision_once(week):
    run(week, DIGEST)
    log = (week.home / "TECHNICAL_LOG.md").read_text()
    assert "## Week of 2026-01-05" in log and "### Summary" in log
    assert log.index("### Summary") < log.index("### Experiments") < log.index("### Papers") < log.index("### Queue")
    assert "#### H-002: A wider model stores more key-value pairs — promote (promoted)" in log
    assert "#### H-001: Cosine decay with warmup stabilises recall training — reject (rejected)" in log
    assert "| improvement | **no** |" in log and "| significance | yes |" in log
    run(week, DIGEST)  # a retried task
    assert (week.home / "TECHNICAL_LOG.md").read_text() == log


def test_escalation_when_the_gap_is_large_and_nothing_queued_closes_it(week):
    page = week.home / "pages" / "memorybench.html"
    page.write_text(page.read_text().replace("<td>0.861</td>", "<td>0.951</td>"))
    run_cycle(week, parse_now("2026-01-08T06:00:00Z"), "m3")
    result = run(week, DIGEST)
    assert any("escalation-2026-01-12-gap-memorybench" in b for b in result["briefs"])
    brief = (week.home / result["briefs"][0]).read_text()
    assert "MemoryBench" in brief and "architectural change" in brief
    assert "- Escalated to the research team: MemoryBench:" in result["markdown"]


def test_names_from_the_web_are_escaped_everywhere(week):
    page = week.home / "pages" / "memorybench.html"
    page.write_text(page.read_text().replace("<td>0.861</td>", "<td>0.862</td>").replace(
        "<td>CompetitorB</td>", "<td>&lt;!channel&gt; | x</td>"))
    run_cycle(week, parse_now("2026-01-08T06:00:00Z"), "m3")
    result = run(week, DIGEST)
    text = json.dumps(result["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_digest_command(week):
    proc = run_cli("digest", "--json", "--now", "2026-01-12T09:00:00Z", home=week.home, check=True)
    out = json.loads(proc.stdout)
    assert set(out) >= {"markdown", "blocks"} and out["markdown"].startswith("# Benchmark Digest")
    proc = run_cli("digest", "--send", "--now", "2026-01-12T09:00:00Z", home=week.home,
                   env={"AUTOBENCH_SLACK_TOKEN": "", "AUTOBENCH_SLACK_CHANNEL": ""})
    assert proc.returncode == 1 and "AUTOBENCH_SLACK_TOKEN" in proc.stderr


def test_an_empty_week_still_reads_well(store):
    registry = store.load(REGISTRY)
    w = build(store, DIGEST)
    from autobench.weekly_digest import markdown

    md = markdown(w, registry)
    assert "- no leaderboard scraped yet" in md and "- 0 experiments completed | 0 failed fast validation | 0 promoted" in md


@pytest.fixture
def slack():
    """A fake Slack Web API on loopback that records every request."""
    fake = FakeSlack()
    yield fake
    fake.close()


def test_the_digest_reaches_slack_with_both_plots_and_only_once(week, slack):
    from autobench.notifiers import validate_blocks

    fake_slack = slack
    env = {"AUTOBENCH_SLACK_TOKEN": "xoxb-digest-secret", "AUTOBENCH_SLACK_CHANNEL": "#benchmarks",
           "AUTOBENCH_SLACK_API_URL": fake_slack.url}
    proc = run_cli("digest", "--send", "--json", "--now", "2026-01-12T09:00:00Z", home=week.home, env=env, check=True)
    out = json.loads(proc.stdout)
    posted = fake_slack.calls("chat.postMessage")
    assert len(posted) == 1 and posted[0]["headers"]["Authorization"] == "Bearer xoxb-digest-secret"
    blocks = posted[0]["body"]["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert validate_blocks(blocks) == [] and blocks[0]["text"]["text"] == "Benchmark Digest — Week of 2026-01-05"
    assert len(fake_slack.uploads) == 2 and all(b.startswith(b"\x89PNG") for b in fake_slack.uploads.values())
    assert out["sent"]["ok"] is True
    assert "xoxb-digest-secret" not in proc.stdout + proc.stderr
    # a retried task posts nothing twice
    run_cli("digest", "--send", "--now", "2026-01-12T09:00:00Z", home=week.home, env=env, check=True)
    assert len(fake_slack.calls("chat.postMessage")) == 1
