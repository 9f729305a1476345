"""The weekly digest, the technical log and the escalation briefs: one cycle of the reporting phase.

:func:`cycle` gathers the week (:mod:`autobench.reporting.digest_gather`), renders it
(:mod:`autobench.reporting.digest_render`) and writes ``digests/<week>.md``, the week's section of
``TECHNICAL_LOG.md`` (once) and the escalation briefs under ``reports/`` (once each); with
``send`` it delivers the digest and its two plots through a notifier (:func:`deliver`: one of
:data:`autobench.reporting.notifiers.REGISTRY`, chosen by name), keeping its progress so a
retried task posts nothing twice.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobench import fsio
from autobench.clock import iso
from autobench.reporting.digest_gather import Week, gather
from autobench.reporting.digest_render import blocks, markdown, message, technical_log_section
from autobench.schemas import REGISTRY, Registry
from autobench.store import StateStore

if TYPE_CHECKING:
    from autobench.reporting.notifiers import Notifier

TECHNICAL_LOG = "TECHNICAL_LOG.md"
DEFAULT_NOTIFIER = "slack"


def cycle(store: StateStore, now: dt.datetime, *, send: bool = False,
          notifier: str | Notifier = DEFAULT_NOTIFIER) -> dict[str, Any]:
    """One digest: gather the week, write the digest, the log section and the briefs; with ``send``,
    deliver it through ``notifier``: a registered notifier's name (built from the environment:
    :func:`autobench.reporting.notifiers.get`) or a notifier already built. The answer is what
    ``autobench digest --json`` prints: ``markdown``, ``blocks`` (Block Kit), ``digest``, ``briefs``,
    ``sent``."""
    if send and isinstance(notifier, str):
        from autobench.reporting import notifiers

        notifiers.REGISTRY.get(notifier)  # an unknown name fails before anything is written
    registry: Registry = store.load(REGISTRY)
    week = gather(store, now)
    md = markdown(week, registry)
    digest_path = store.home / "digests" / f"{week.label}.md"
    if not digest_path.exists() or digest_path.read_text(encoding="utf-8") != md:
        fsio.atomic_write(digest_path, md)
    append_technical_log(store, technical_log_section(week))
    briefs = write_briefs(store, week, now)
    result: dict[str, Any] = {"markdown": md, "blocks": blocks(week, registry),
                              "digest": str(digest_path.relative_to(store.home)), "briefs": briefs, "sent": None}
    if send:
        result["sent"] = deliver(store, week, registry, notifier)
    return result


def write_briefs(store: StateStore, week: Week, now: dt.datetime) -> list[str]:
    """One brief per escalation under ``reports/`` (never rewritten); their paths."""
    written = []
    for i, esc in enumerate(week.escalations, 1):
        slug = re.sub(r"[^a-z0-9]+", "-", (esc["leaderboard"] or esc["case"]).lower()).strip("-")
        path = store.home / "reports" / f"escalation-{week.end.date().isoformat()}-{esc['case']}-{slug}-{i}.md"
        if not path.exists():
            from autobench.escaping import md_text

            body = (f"# Escalation: {md_text(esc['title'])}\n\n**Raised:** {iso(now)} by the weekly digest\n"
                    f"**Case:** {esc['case']}\n\n{esc['detail']}\n")
            fsio.atomic_write(path, body)
        written.append(str(path.relative_to(store.home)))
    return written


def append_technical_log(store: StateStore, section: str) -> bool:
    """Append the week's section unless its marker is there already (a retried task)."""
    path = store.home / TECHNICAL_LOG
    marker = section.splitlines()[1]
    with store.lock(TECHNICAL_LOG):
        text = path.read_text(encoding="utf-8") if path.exists() else (
            "# Technical log\n\nWhat autobench did and why, week by week: each week opens with a "
            "summary, then every experiment with its criteria, every paper with its techniques, and the queue.\n")
        if marker in text:
            return False
        fsio.atomic_write(path, text.rstrip("\n") + "\n\n" + section)
    return True


def deliver(store: StateStore, week: Week, registry: Registry,
            notifier: str | Notifier = DEFAULT_NOTIFIER) -> dict[str, Any]:
    """The digest with its two plots through ``notifier`` (a registered notifier's name, or one
    already built), its progress kept in ``digests/<week>.sent.json`` so a retried task posts nothing twice.

    The marker is written as soon as the message is posted (its ``ts``, the files still to upload,
    ``"ok": false``) and after each upload; a retry hands it back to
    :meth:`~autobench.reporting.notifiers.base.Notifier.send`, which uploads only the missing plots
    into the posted message's thread. A complete marker (``"ok": true``) is the answer.
    """
    import tempfile

    from autobench.reporting import plots

    marker = store.home / "digests" / f"{week.label}.sent.json"
    state = json.loads(marker.read_text()) if marker.exists() else None
    if state is not None and state.get("ok", True):
        return state
    if isinstance(notifier, str):
        from autobench.reporting import notifiers

        notifier = notifiers.get(notifier)

    def save(data: dict[str, Any]) -> None:
        fsio.atomic_write(marker, json.dumps(data, default=str) + "\n")

    with tempfile.TemporaryDirectory(prefix="autobench-plots-") as tmp:
        files = [p for p in (plots.gap_over_time(store.home, registry, Path(tmp) / "gap_over_time.png"),
                             plots.latest_experiment(store.home, Path(tmp) / "latest_experiment.png")) if p]
        return notifier.send(message(week, registry, files), resume=state, progress=save)
