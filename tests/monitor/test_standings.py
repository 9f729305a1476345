"""The delta report's lines, name matching and the gap matrix, on one MemoryBench week (CompetitorA improves,
StartupX enters ahead of us)."""

from __future__ import annotations

from autobench.monitor.standings import (
    Names,
    delta,
    gap_matrix,
    gap_to_first,
    markdown,
    normalise,
    rank_dropped,
    ranking,
)

NAMES = Names([["OurSystem", "Our System (ours)"], ["CompetitorA", "Competitor-A"]])


def board(rows, name="MemoryBench", hib=True):
    return ranking(name, [{"system": s, "score": v} for s, v in rows], NAMES, "OurSystem", hib)


BEFORE = board([("CompetitorA", 0.847), ("OurSystem", 0.823), ("CompetitorB", 0.801)])
AFTER = board([("CompetitorA", 0.861), ("StartupX", 0.855), ("OurSystem", 0.823), ("CompetitorB", 0.801)])


def test_the_delta_lines_exactly():
    lines = delta(BEFORE, AFTER)
    assert "[ALERT] CompetitorA improved on MemoryBench: 0.847 → 0.861 (+0.014)" in lines
    assert "[ALERT] New entrant: StartupX at 0.855 — now ranked #2, ahead of us on MemoryBench" in lines
    assert lines[-1] == "[STATUS] Our rank: #3 | Gap to #1: -0.038 on MemoryBench"
    assert "[ALERT] Our rank dropped on MemoryBench: #2 → #3" in lines
    assert rank_dropped(BEFORE, AFTER) and not rank_dropped(AFTER, AFTER)


def test_drops_removals_rank_shifts_and_overtaking():
    before = board([("CompetitorA", 0.847), ("OurSystem", 0.823), ("CompetitorB", 0.801), ("Old", 0.7)])
    after = board([("CompetitorA", 0.840), ("CompetitorB", 0.830), ("OurSystem", 0.823)])
    lines = delta(before, after)
    assert "[ALERT] CompetitorA dropped on MemoryBench: 0.847 → 0.840 (-0.007)" in lines
    assert "[ALERT] CompetitorB overtook us on MemoryBench" in lines
    assert any(line.startswith("[INFO] Old is no longer listed on MemoryBench") for line in lines)
    assert delta(after, after) == ["[STATUS] Our rank: #3 | Gap to #1: -0.017 on MemoryBench"]


def test_names_match_after_normalising_and_through_aliases():
    assert normalise("🥇 GPT\u20114o  (2024)") == "gpt-4o (2024)"  # emoji dropped, non-breaking hyphen
    assert normalise("ＯｕｒＳｙｓｔｅｍ") == "oursystem"  # NFKC: full-width letters
    before = board([("Competitor-A", 0.847), ("Our System (ours)", 0.823)])
    after = board([("competitora ✅", 0.847), ("OurSystem", 0.823)])
    assert delta(before, after) == ["[STATUS] Our rank: #2 | Gap to #1: -0.024 on MemoryBench"]


def test_lower_is_better_and_first_place():
    b = board([("OurSystem", 0.20), ("CompetitorA", 0.25)], name="Loss", hib=False)
    assert b.our_entry().rank == 1
    assert delta(None, b) == ["[STATUS] Our rank: #1 | Lead over #2: +0.050 on Loss"]
    assert abs(gap_to_first(b) - 0.05) < 1e-12


def test_ties_share_a_rank():
    b = board([("A", 0.9), ("B", 0.9), ("OurSystem", 0.8)])
    assert [e.rank for e in b.entries] == [1, 1, 3]


def test_gap_matrix_is_the_seeds_table():
    mb = AFTER
    lce = board([("CompetitorA", 0.812), ("StartupX", 0.798), ("OurSystem", 0.791), ("CompetitorB", 0.764)],
                name="LongContextEval")
    m = gap_matrix([mb, lce], "OurSystem", current={"MemoryBench": 0.9907, "LongContextEval": 0.791})
    assert [r["system"] for r in m["rows"]] == ["CompetitorA", "StartupX", "OurSystem", "CompetitorB"]
    assert [r["rank"] for r in m["rows"]] == [1, 2, 3, 4]
    by = {r["system"]: r for r in m["rows"]}
    assert by["CompetitorA"]["delta_to_ours"] < 0 and by["CompetitorB"]["delta_to_ours"] > 0
    assert by["OurSystem"]["delta_to_ours"] is None and by["OurSystem"]["current_scores"] == {"MemoryBench": 0.9907}
    table = markdown(m)
    assert "| #3 | OurSystem | 0.823 | 0.791 | — |" in table
    assert table.splitlines()[0] == "| Rank | System | MemoryBench | LongContextEval | Δ to Our Score |"


def test_gap_matrix_markdown_escapes_leaderboard_names_too():
    m = gap_matrix([board([("A", 0.9), ("OurSystem", 0.8)], name="Mem|Bench *v2*")], "OurSystem")
    header = markdown(m).splitlines()[0]
    assert header == "| Rank | System | Mem\\|Bench \\*v2\\* | Δ to Our Score |"
    assert header.count(" | ") == 3  # four cells, as the separator row says
