"""The monitor phase: where we stand on each leaderboard, every morning.

Scrapes each leaderboard of the registry (:mod:`.scrape`: one module per scrape method), keeps a
snapshot per run (:mod:`.snapshots`), diffs it against the last one and ranks everyone
(:mod:`.standings`), then updates the registry, the gap matrix, victory and urgency and raises
the triggers. Entry: :func:`autobench.monitor.cycle.cycle` (the DAG's task bodies:
:mod:`.tasks`).
"""
