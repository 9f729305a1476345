"""The weekly digest, the technical log, escalation briefs, and escaping."""

from __future__ import annotations

import json
import os
import re

import pytest
from conftest import run_cli
from test_decide import candidate_runs, production_runs

from autobench.clock import parse_now
from autobench.experiments.decide import decide
from autobench.monitor.cycle import cycle as monitor_cycle
from autobench.reporting import notifiers
from autobench.reporting.digest import cycle as digest_cycle
from autobench.reporting.digest_gather import gather
from autobench.reporting.notifiers import Context, Header, Notifier, NotifyError, Section
from autobench.reporting.notifiers.message import plain
from autobench.schemas import REGISTRY
from demo.fake_slack import FakeSlack

MONDAY = parse_now("2026-01-05T06:00:00Z")
DECIDED = parse_now("2026-01-07T08:00:00Z")
DIGEST = parse_now("2026-01-12T09:00:00Z")


@pytest.fixture
def week(store):
    """A week: two monitor cycles (a competitor moves), one promotion, one rejection."""
    monitor_cycle(store, MONDAY, "m1")
    page = store.home / "pages" / "memorybench.html"
    page.write_text(page.read_text().replace("<td>0.847</td>", "<td>0.861</td>"))
    monitor_cycle(store, parse_now("2026-01-06T06:00:00Z"), "m2")
    production_runs(store)
    # H-001 first: once H-002 is promoted, H-001's config (production + its patch) is a new one
    candidate_runs(store, "H-001", {1: -0.0021, 2: -0.0012, 3: -0.0019}, fast_gain=0.0)
    decide(store, "H-001", DECIDED)
    candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01)
    decide(store, "H-002", DECIDED)
    return store


def test_the_digest_has_its_four_sections_and_their_lines(week):
    result = digest_cycle(week, DIGEST)
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
    assert "- 2 experiments completed | 0 failed fast validation | 1 promoted\n" in md
    # the stream-wide control after the week's last final decision (both decisions were tests)
    assert re.search(r"- False-promotion control \(LORD\+\+, budget 0\.05, recorded, not enforced\): 2 test\(s\) "
                     r"this week, 1 discovery\(ies\); wealth 0\.04\d+ after test #2\n", md)
    # estimated vs realised gains: H-001 (gap analysis) and H-002 (by hand), one each
    assert re.search(r"- Estimated vs realised gains: gap strategy -?\d\.\d\d× \(n 1\); other 1\.1\d× \(n 1\)", md), md
    assert (week.home / "digests" / "2026-01-05.md").read_text() == md
    assert result["blocks"][0]["type"] == "header"


def test_the_technical_log_explains_every_decision_once(week):
    digest_cycle(week, DIGEST)
    log = (week.home / "TECHNICAL_LOG.md").read_text()
    assert "## Week of 2026-01-05" in log and "### Summary" in log
    assert log.index("### Summary") < log.index("### Experiments") < log.index("### Papers") < log.index("### Queue")
    assert "#### H-002: A wider model stores more key-value pairs — promote (promoted)" in log
    assert "#### H-001: Cosine decay with warmup stabilises recall training — reject (rejected)" in log
    assert "| improvement | **no** |" in log and "| significance | yes |" in log
    digest_cycle(week, DIGEST)  # a retried task
    assert (week.home / "TECHNICAL_LOG.md").read_text() == log


def test_escalation_when_the_gap_is_large_and_nothing_queued_closes_it(week):
    page = week.home / "pages" / "memorybench.html"
    page.write_text(page.read_text().replace("<td>0.861</td>", "<td>0.951</td>"))
    monitor_cycle(week, parse_now("2026-01-08T06:00:00Z"), "m3")
    result = digest_cycle(week, DIGEST)
    assert any("escalation-2026-01-12-gap-memorybench" in b for b in result["briefs"])
    brief = (week.home / result["briefs"][0]).read_text()
    assert "MemoryBench" in brief and "architectural change" in brief
    assert "- Escalated to the research team: MemoryBench:" in result["markdown"]


def test_a_promotion_that_costs_more_to_serve_is_escalated(store):
    monitor_cycle(store, MONDAY, "m1")
    production_runs(store)
    chash = candidate_runs(store, "H-002", {1: 0.0091, 2: 0.0088, 3: 0.0095}, fast_gain=0.01, latency=2.14)
    assert decide(store, "H-002", DECIDED).decision == "promote"  # +7% latency: within the limit
    result = digest_cycle(store, DIGEST)
    brief_path = next(b for b in result["briefs"] if "-regression-" in b)
    brief = (store.home / brief_path).read_text()
    assert brief.startswith("# Escalation: H-002 was promoted but costs more to serve\n")
    assert ("Latency +7.0% and memory +0.0% against the production it replaced (within the promotion limits of "
            "+10% and +15%, so it was promoted). Decide whether the gain is worth it; the decision: "
            f"`experiments/results/H-002/{chash}/decision.json`.") in brief
    assert "- Escalated to the research team: H-002 was promoted but costs more to serve" in result["markdown"]


def test_names_from_the_web_are_escaped_everywhere(week):
    page = week.home / "pages" / "memorybench.html"
    page.write_text(page.read_text().replace("<td>0.861</td>", "<td>0.862</td>").replace(
        "<td>CompetitorB</td>", "<td>&lt;!channel&gt; | x</td>"))
    monitor_cycle(week, parse_now("2026-01-08T06:00:00Z"), "m3")
    result = digest_cycle(week, DIGEST)
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
    w = gather(store, DIGEST)
    from autobench.reporting.digest_render import markdown

    md = markdown(w, registry)
    assert ("- no leaderboard scraped yet" in md
            and "- 0 experiments completed | 0 failed fast validation | 0 promoted" in md)


@pytest.fixture
def slack():
    """A fake Slack Web API on loopback that records every request."""
    fake = FakeSlack()
    yield fake
    fake.close()


def test_the_digest_reaches_slack_with_both_plots_and_only_once(week, slack):
    from autobench.reporting.notifiers import validate_blocks

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


# ----------------------------------------------------------------------------- our rank moving


def _set_score(home, system, score):
    """Change (or add, after the last row) one system's score on the MemoryBench page."""
    page = home / "pages" / "memorybench.html"
    text = page.read_text()
    row = re.search(rf"<tr><td>\d+</td><td>{re.escape(system)}</td><td>[^<]*</td><td>([\d.]+)</td>", text)
    if row:
        text = text[:row.start(1)] + f"{score}" + text[row.end(1):]
    else:
        text = text.replace("  </tbody>", f"    <tr><td>9</td><td>{system}</td><td>x</td><td>{score}</td>"
                                          "<td>2026-01-01</td></tr>\n  </tbody>")
    page.write_text(text)


def _drop_row(home, system):
    page = home / "pages" / "memorybench.html"
    page.write_text(re.sub(rf"\s*<tr><td>\d+</td><td>{re.escape(system)}</td>.*?</tr>", "", page.read_text()))


def _changed(md):
    """The "What Changed This Week" section's lines."""
    return md.split("## What Changed This Week\n", 1)[1].split("\n## ", 1)[0].strip().splitlines()


def _slack_changed(blocks):
    return next(b["text"]["text"] for b in blocks if b["type"] == "section"
                and b["text"]["text"].startswith("*What Changed This Week*"))


def test_our_rank_rising_is_in_the_digest_and_in_slack(store):
    monitor_cycle(store, MONDAY, "m1")  # before the week's start (Monday 09:00): #3
    _set_score(store.home, "OurSystem", 0.871)
    monitor_cycle(store, parse_now("2026-01-08T06:00:00Z"), "m2")  # #1: the monitor says [INFO], not [ALERT]
    result = digest_cycle(store, DIGEST)
    changed = _changed(result["markdown"])
    assert "- MemoryBench: our rank #3 → #1 ⬆️" in changed
    assert not any("LongContextEval" in line for line in changed)  # #2 all week: no line
    assert "• MemoryBench: our rank #3 → #1 :arrow_up:" in _slack_changed(result["blocks"]).splitlines()
    log = (store.home / "TECHNICAL_LOG.md").read_text()
    assert "- MemoryBench: #1, gap +0.024 (#3 at the start of the week)" in log
    assert "- LongContextEval: #2, gap -0.021\n" in log


def test_the_first_snapshot_of_the_week_is_the_start_when_none_is_older(store):
    monitor_cycle(store, parse_now("2026-01-06T06:00:00Z"), "m1")  # the first scrape ever, inside the week
    _set_score(store.home, "OurSystem", 0.871)
    monitor_cycle(store, parse_now("2026-01-08T06:00:00Z"), "m2")
    assert "- MemoryBench: our rank #3 → #1 ⬆️" in _changed(digest_cycle(store, DIGEST)["markdown"])


def test_a_rank_drop_is_said_once(store):
    _set_score(store.home, "OurSystem", 0.871)
    monitor_cycle(store, MONDAY, "m1")  # #1
    _set_score(store.home, "CompetitorA", 0.881)
    monitor_cycle(store, parse_now("2026-01-08T06:00:00Z"), "m2")  # #2: [ALERT] Our rank dropped …: #1 → #2
    monitor = json.loads((store.home / "state" / "monitor.json").read_text())
    assert any("Our rank dropped on MemoryBench: #1 → #2" in a for c in monitor["cycles"] for a in c["alerts"])
    result = digest_cycle(store, DIGEST)
    changed = _changed(result["markdown"])
    assert "- MemoryBench: our rank #1 → #2 ⬇️" in changed
    assert sum("#1 → #2" in line for line in changed) == 1
    slack = _slack_changed(result["blocks"])
    assert "• MemoryBench: our rank #1 → #2 :arrow_down:" in slack and slack.count("#1 → #2") == 1
    assert "CompetitorA overtook us on MemoryBench" in slack  # the other alerts stay
    assert "- CompetitorA overtook us on MemoryBench" in changed


def test_a_dip_the_net_movement_hides_is_still_said(store):
    monitor_cycle(store, MONDAY, "m1")  # #3
    _set_score(store.home, "BaselineLSTM", 0.86)
    monitor_cycle(store, parse_now("2026-01-07T06:00:00Z"), "m2")  # #4
    _set_score(store.home, "OurSystem", 0.871)
    monitor_cycle(store, parse_now("2026-01-09T06:00:00Z"), "m3")  # #1
    result = digest_cycle(store, DIGEST)
    changed = _changed(result["markdown"])
    assert "- MemoryBench: our rank #3 → #1 ⬆️ (fell to #4 during the week)" in changed
    assert not any("Our rank dropped" in line for line in changed)
    assert "Our rank dropped" not in _slack_changed(result["blocks"])
    assert "(#3 at the start of the week); fell to #4 during the week" in (store.home / "TECHNICAL_LOG.md").read_text()


def test_a_drop_undone_within_the_week_keeps_the_monitors_alert(store):
    _set_score(store.home, "OurSystem", 0.871)
    monitor_cycle(store, MONDAY, "m1")  # #1
    _set_score(store.home, "CompetitorA", 0.881)
    monitor_cycle(store, parse_now("2026-01-07T06:00:00Z"), "m2")  # #2
    _set_score(store.home, "OurSystem", 0.891)
    monitor_cycle(store, parse_now("2026-01-09T06:00:00Z"), "m3")  # #1 again: no movement line, the drop still said
    result = digest_cycle(store, DIGEST)
    changed = _changed(result["markdown"])
    assert "- Our rank dropped on MemoryBench: #1 → #2" in changed and not any("our rank #" in c for c in changed)
    assert "• Our rank dropped on MemoryBench: #1 → #2" in _slack_changed(result["blocks"])


def test_an_unchanged_rank_adds_no_line(week):
    result = digest_cycle(week, DIGEST)  # MemoryBench #3 and LongContextEval #2 all week
    assert not any("our rank" in line or "listed" in line for line in _changed(result["markdown"]))
    assert "our rank" not in _slack_changed(result["blocks"])
    assert "start of the week" not in (week.home / "TECHNICAL_LOG.md").read_text()


def test_newly_listed_and_no_longer_listed(store):
    _drop_row(store.home, "OurSystem")
    monitor_cycle(store, MONDAY, "m1")  # not on MemoryBench; #2 on LongContextEval
    _set_score(store.home, "OurSystem", 0.70)  # back on MemoryBench at #4
    api = store.home / "pages" / "longcontexteval.json"
    data = json.loads(api.read_text())
    data["results"] = [r for r in data["results"] if r["system"] != "OurSystem"]
    api.write_text(json.dumps(data))
    monitor_cycle(store, parse_now("2026-01-08T06:00:00Z"), "m2")
    result = digest_cycle(store, DIGEST)
    changed = _changed(result["markdown"])
    assert "- MemoryBench: we are newly listed at #4" in changed
    assert "- LongContextEval: we are no longer listed (was #2) ⚠️" in changed
    slack = _slack_changed(result["blocks"])
    assert "• MemoryBench: we are newly listed at #4" in slack
    assert "• LongContextEval: we are no longer listed (was #2) :warning:" in slack
    log = (store.home / "TECHNICAL_LOG.md").read_text()
    assert ("(not listed at the start of the week)" in log
            and "- LongContextEval: not listed (#2 at the start of the week)" in log)


def test_a_hostile_leaderboard_name_is_escaped_in_the_movement_line(store):
    hostile = "<!channel> *Mem* [x](http://e.vil)"
    reg = store.home / "competitive_registry.yaml"
    reg.write_text(reg.read_text().replace("MemoryBench", f"'{hostile}'"))  # every mention, quoted
    monitor_cycle(store, MONDAY, "m1")
    _set_score(store.home, "OurSystem", 0.871)
    _set_score(store.home, "<b>&lt;!here&gt;</b>", 0.88)  # a hostile new entrant, ahead of us: #3 → #2
    monitor_cycle(store, parse_now("2026-01-08T06:00:00Z"), "m2")
    result = digest_cycle(store, DIGEST)
    from autobench.escaping import md_text, slack_text

    changed = _changed(result["markdown"])
    assert f"- {md_text(hostile)}: our rank #3 → #2 ⬆️" in changed
    assert not any(hostile in line for line in changed)
    slack = _slack_changed(result["blocks"])
    assert f"• {slack_text(hostile)}: our rank #3 → #2 :arrow_up:" in slack
    assert "<!channel>" not in json.dumps(result["blocks"]) and "<!here>" not in json.dumps(result["blocks"])
    assert "New entrant: &lt;!here&gt; at 0.880" in slack


# ----------------------------------------------------------------------------- web text in the briefs and the log

HOSTILE = "<!channel> [win](https://evil.example) *x*"


def _no_live_markdown(text: str) -> None:
    assert re.search(r"(?<!\\)<!channel>", text) is None, "a live mention"
    assert re.search(r"(?<!\\)\]\(http", text) is None, "a live link"
    assert re.search(r"(?<!\\)\*x(?<!\\)\*", text) is None, "live emphasis"


def test_a_hostile_leader_is_escaped_in_the_gap_escalation_brief(store):
    from autobench.escaping import md_text

    monitor_cycle(store, MONDAY, "m1")
    _set_score(store.home, "&lt;!channel&gt; [win](https://evil.example) *x*", 0.951)  # a new #1, 13% ahead
    monitor_cycle(store, parse_now("2026-01-08T06:00:00Z"), "m2")
    result = digest_cycle(store, DIGEST)
    brief_path = next(b for b in result["briefs"] if "-gap-memorybench-" in b)
    brief = (store.home / brief_path).read_text()
    _no_live_markdown(brief)
    first = gather(store, DIGEST).positions[0]["first"]  # as scraped (the scraper drops a trailing footnote star)
    assert first.startswith("<!channel> [win](https://evil.example) *x")
    assert f"Our score 0.823, {md_text(first)} leads by 0.128" in brief
    assert brief.startswith("# Escalation: MemoryBench: ") and "\n**Case:** gap\n" in brief  # our formatting


RESEARCH_LOG = f"""# Research log

Papers autobench read, what it extracted, and what it did about them.

<!-- ingest r1 at 2026-01-08T07:00:00Z: 2 fetched, 2 new, 2 relevant -->

## [2026-01-08] Competitor post: "{HOSTILE}"
<!-- autobench: paper url:https://evil.example/post -->
**Source:** <https://evil.example/post>
**Relevant leaderboard:** MemoryBench
**Reported gain:** +5.0% on MemoryBench ("beats [them](https://evil.example) # x")
**Techniques extracted:** none from the catalog
**Action:** No new experiment: nothing here applies that was not in production or already tried.

## [2026-01-08] Paper: "Already \\[escaped\\](https://e.example) \\*y\\*"
<!-- autobench: paper 2601.00001 -->
**Source:** arXiv:2601.00001
**Relevant leaderboard:** MemoryBench
**Reported gain:** none stated
**Techniques extracted:**
- Cosine schedule (effort: Low, impact: High) — already tried
**Action:** No new experiment: nothing here applies that was not in production or already tried.
"""


def test_research_log_entries_are_escaped_in_the_brief_and_the_technical_log(store):
    from autobench.escaping import md_text

    monitor_cycle(store, MONDAY, "m1")
    (store.home / "research_log.md").write_text(RESEARCH_LOG)
    result = digest_cycle(store, DIGEST)
    brief_path = next(b for b in result["briefs"] if "-competitor-" in b)
    brief = (store.home / brief_path).read_text()
    _no_live_markdown(brief)
    assert brief.startswith(f"# Escalation: A competitor's approach autobench cannot reproduce: {md_text(HOSTILE)}\n")
    assert f'\n## [2026-01-08] Competitor post: "{md_text(HOSTILE)}"\n' in brief  # the log's own heading kept
    assert "\n**Techniques extracted:** none from the catalog\n" in brief  # and its bold labels
    assert "<!-- autobench: paper url:https://evil.example/post -->" in brief
    assert "\n**Source:** <https://evil.example/post>\n" in brief  # a plain autolink stays one
    assert f"- Escalated to the research team: A competitor's approach autobench cannot reproduce: {md_text(HOSTILE)}" \
        in result["markdown"]

    log = (store.home / "TECHNICAL_LOG.md").read_text()
    papers = log.split("### Papers\n", 1)[1].split("\n### Queue", 1)[0]
    _no_live_markdown(papers)
    assert f'\n### [2026-01-08] Competitor post: "{md_text(HOSTILE)}"\n' in papers
    assert f'**Reported gain:** +5.0% on MemoryBench ("beats {md_text("[them](https://evil.example) # x")}")' in papers
    # an entry the research log already escaped is not escaped twice
    assert f'\n### [2026-01-08] Paper: "{md_text("Already [escaped](https://e.example) *y*")}"\n' in papers
    assert "\n- Cosine schedule (effort: Low, impact: High) — already tried\n" in papers
    assert "\n**Techniques extracted:**\n" in papers and "<!-- autobench: paper 2601.00001 -->" in papers


# ----------------------------------------------------------------------------- a replayed digest


def test_a_replayed_digest_uses_the_snapshots_of_its_week(store):
    monitor_cycle(store, MONDAY, "m1")  # 2026-01-05: #3 on MemoryBench
    _set_score(store.home, "OurSystem", 0.871)
    monitor_cycle(store, parse_now("2026-01-14T06:00:00Z"), "m2")  # after the digest's now: #1
    result = digest_cycle(store, DIGEST)  # the digest of 2026-01-12, run late (or replayed)
    assert "- MemoryBench: #3 ⚠️ (our score: 0.823 | gap to #1: -0.024)" in result["markdown"]
    assert not any("our rank" in line for line in _changed(result["markdown"]))
    assert gather(store, parse_now("2026-01-14T09:00:00Z")).positions[0]["rank"] == 1  # a digest after it: #1


# ----------------------------------------------------------------------------- a retried post


class FlakyUploadSlack(FakeSlack):
    """The fake Slack refusing the bytes of its ``n``-th file upload (HTTP 500), once."""

    def __init__(self, n: int) -> None:
        super().__init__()
        fake = self

        class Watch(list):
            def append(self, request) -> None:  # called under the fake's lock, before it answers
                super().append(request)
                if request["path"].startswith("/upload/"):
                    fake.upload_count = getattr(fake, "upload_count", 0) + 1
                    fake.upload_status = 500 if fake.upload_count == n else 200

        self.requests = Watch()


def test_a_retry_after_a_failed_upload_does_not_post_the_digest_again(week, monkeypatch):
    from autobench.reporting.notifiers import NotifyError
    from autobench.reporting.notifiers.slack import SlackNotifier

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    fake = FlakyUploadSlack(2)  # the second plot fails
    try:
        notifier = SlackNotifier("xoxb-retry-secret", "#benchmarks", fake.url)
        with pytest.raises(NotifyError, match="posted .* with 1 of 2 files"):
            digest_cycle(week, DIGEST, send=True, notifier=notifier)
        marker = week.home / "digests" / "2026-01-05.sent.json"
        half = json.loads(marker.read_text())
        assert half["ok"] is False and half["ts"] and half["pending"] == ["latest_experiment.png"]
        assert [f["name"] for f in half["files"]] == ["gap_over_time.png"]

        result = digest_cycle(week, DIGEST, send=True, notifier=notifier)  # the retried task
        assert len(fake.calls("chat.postMessage")) == 1
        sent = result["sent"]
        assert sent["ok"] is True and sent["ts"] == half["ts"] and "pending" not in sent
        assert [f["name"] for f in sent["files"]] == ["gap_over_time.png", "latest_experiment.png"]
        completed = fake.calls("files.completeUploadExternal")
        assert len(completed) == 2 and all(c["body"]["thread_ts"] == half["ts"] for c in completed)
        assert json.loads(marker.read_text()) == sent

        digest_cycle(week, DIGEST, send=True, notifier=notifier)  # once more: nothing sent
        assert len(fake.calls("chat.postMessage")) == 1 and len(fake.calls("files.completeUploadExternal")) == 2
    finally:
        fake.close()


# ----------------------------------------------------------------------------- a notifier of one's own


class MemoNotifier(Notifier):
    """Defined here, registered at runtime: renders the neutral message as plain text and delivers
    it into :data:`MEMO` (its channel, shared by every instance). Built by name, it refuses the
    uploads numbered in ``MEMO_FAIL`` (``"2"``: its second upload; 1 = the first)."""

    name = "memo"

    def __init__(self, fail: tuple[int, ...] = ()):
        self.fail, self.tries = set(fail), 0

    @classmethod
    def from_env(cls):
        return cls(fail=tuple(int(n) for n in os.environ.get("MEMO_FAIL", "").split(",") if n))

    def render(self, message):
        out = []
        for block in message.blocks:
            if isinstance(block, Header):
                out.append(block.text.upper())
            elif isinstance(block, Section):
                out += ([block.title] if block.title else []) + [f"- {plain(x)}" for x in block.lines]
            elif isinstance(block, Context):
                out.append(plain(block.text))
        return "\n".join(out)

    def post(self, message):
        self.check(message)
        MEMO["posts"].append(self.render(message))
        return {"ts": f"memo-{len(MEMO['posts'])}", "channel": "memo"}

    def upload(self, path, *, channel, thread):
        self.tries += 1
        MEMO["tries"] += 1
        if self.tries in self.fail:
            raise NotifyError(f"memo: {path.name} refused")
        MEMO["uploads"].append((channel, thread, path.name, path.read_bytes()[:4]))
        return {"name": path.name}


MEMO: dict = {}


def test_a_notifier_registered_at_runtime_is_chosen_by_name_delivers_the_digest_and_resumes_it(week, monkeypatch):
    MEMO.update(posts=[], uploads=[], tries=0)
    with pytest.raises(NotifyError, match="unknown notifier 'memo'"):  # not registered yet: refused by name
        digest_cycle(week, DIGEST, send=True, notifier="memo")
    assert not (week.home / "digests" / "2026-01-05.md").exists()  # before anything was written
    notifiers.REGISTRY.register("memo", MemoNotifier)
    try:
        assert "memo" in notifiers.names()
        monkeypatch.setenv("MEMO_FAIL", "2")  # the second plot's upload fails once
        with pytest.raises(NotifyError, match=r"posted \(ts memo-1\) with 1 of 2 files, "
                                                        r"latest_experiment.png failed; a retry uploads only the rest"):
            digest_cycle(week, DIGEST, send=True, notifier="memo")
        marker = json.loads((week.home / "digests" / "2026-01-05.sent.json").read_text())
        assert marker == {"ok": False, "ts": "memo-1", "channel": "memo", "files": [{"name": "gap_over_time.png"}],
                          "pending": ["latest_experiment.png"]}
        text = MEMO["posts"][0]
        assert text.startswith("BENCHMARK DIGEST — WEEK OF 2026-01-05\nCompetitive Position\n")
        assert "- MemoryBench: #3 :warning: (our score: 0.823 | gap to #1: -0.038)" in text  # rendered by the notifier

        monkeypatch.delenv("MEMO_FAIL")
        sent = digest_cycle(week, DIGEST, send=True, notifier="memo")["sent"]  # the retried task
        assert len(MEMO["posts"]) == 1  # never posted twice
        assert [u[2] for u in MEMO["uploads"]] == ["gap_over_time.png", "latest_experiment.png"]
        assert all(u[:2] == ("memo", "memo-1") and u[3] == b"\x89PNG" for u in MEMO["uploads"])
        assert sent == {"ok": True, "ts": "memo-1", "channel": "memo",
                        "files": [{"name": "gap_over_time.png"}, {"name": "latest_experiment.png"}]}
        digest_cycle(week, DIGEST, send=True, notifier="memo")  # done: nothing sent again
        assert len(MEMO["posts"]) == 1 and MEMO["tries"] == 3
    finally:
        notifiers.REGISTRY.unregister("memo")
    with pytest.raises(NotifyError, match="unknown notifier 'memo'"):
        notifiers.get("memo")


def test_the_digest_command_sends_through_the_notifier_it_names(week, tmp_path):
    record = tmp_path / "sent.jsonl"
    proc = run_cli("digest", "--send", "--notifier", "record", "--json", "--now", "2026-01-12T09:00:00Z",
                   home=week.home, env={"AUTOBENCH_RECORD_PATH": str(record), "AUTOBENCH_SLACK_TOKEN": ""},
                   check=True)
    assert json.loads(proc.stdout)["sent"]["ok"] is True
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(e["type"], e.get("name")) for e in lines] == [
        ("message", None), ("file", "gap_over_time.png"), ("file", "latest_experiment.png")]
    assert lines[0]["text"] == "Benchmark Digest — Week of 2026-01-05" and lines[1]["thread"] == lines[0]["ts"]

    proc = run_cli("digest", "--send", "--notifier", "pigeon", "--now", "2026-01-12T09:00:00Z", home=week.home)
    assert proc.returncode == 2 and "--notifier: invalid choice: 'pigeon'" in proc.stderr
    assert re.search(r"\(choose from '?slack'?, '?record'?\)", proc.stderr)  # the registry's names
