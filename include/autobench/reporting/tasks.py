"""Task bodies the `weekly_digest` DAG calls: plain values in, JSON-able data out, a log line per step.

The DAG file only wires these together; everything here also runs without Airflow.
"""

from __future__ import annotations

from typing import Any

from autobench.home import resolve_home


def digest_write(now, home: str | None = None) -> dict[str, Any]:
    from autobench.reporting.digest import cycle
    from autobench.store import StateStore

    result = cycle(StateStore(resolve_home(home)), now)
    print(result["markdown"])
    for brief in result["briefs"]:
        print(f"[ESCALATION] {brief}")
    return {"digest": result["digest"], "briefs": result["briefs"]}


def digest_send(now, notifier, home: str | None = None) -> dict[str, Any]:
    """Deliver the week's digest with ``notifier`` (the DAG builds it from its Slack connection)."""
    from autobench.reporting.digest import cycle
    from autobench.store import StateStore

    result = cycle(StateStore(resolve_home(home)), now, send=True, notifier=notifier)
    print(f"posted the digest: {result['sent']}")
    return result["sent"]
