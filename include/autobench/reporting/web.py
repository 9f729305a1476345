"""The autobench page: the state folder as one self-contained HTML page (no Airflow import).

:func:`page` reads ``AUTOBENCH_HOME`` and returns HTML with inline CSS and no external assets:
the gap matrix (our row highlighted, Δ to ours coloured), the hypothesis queue (open ones ranked,
closed ones below), the latest decisions with their five criteria, and two plots as ``<img>``
tags pointing at ``plots/<name>.png`` (relative, so the page works under any URL prefix).
:func:`state` is the same data as JSON, :func:`render_plot` draws one plot into a folder the
caller chooses. The Airflow plugin in ``plugins/autobench_ui.py`` serves all three.

Everything here only reads: nothing under the state folder is written. Every piece of text that
comes from the state (system names, titles, reasons) is HTML-escaped. A missing or invalid state
folder, or an invalid file, shows a clear message in its section instead of failing the page.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_DECISIONS = 10
# name -> caption; each is served as plots/<name>.png
PLOTS: dict[str, str] = {
    "gap_over_time": "Gap to #1 over time",
    "latest_experiment": "Latest experiment",
}


def esc(value: Any) -> str:
    """Text from the state, safe in HTML content and in attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


# --------------------------------------------------------------------------- reading


@dataclass
class View:
    """What the page shows, read once. Each ``*_error`` is a one-line message for its section."""

    home: Path
    home_error: str | None = None
    domain: str | None = None
    registry: Any = None
    registry_error: str | None = None
    gap: Any = None
    gap_error: str | None = None
    queue: Any = None
    queue_error: str | None = None
    decisions: list[tuple[str, Any]] = field(default_factory=list)  # (path relative to home, Decision)
    decision_errors: list[str] = field(default_factory=list)


def _problem(exc: Exception) -> str:
    from autobench.errors import AutobenchError

    if isinstance(exc, AutobenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def read(home: Path | str) -> View:
    """Every file the page needs, each validated against its schema; problems are collected."""
    from autobench.schemas import GAP_MATRIX, QUEUE, REGISTRY
    from autobench.store import StateStore

    home = Path(home).expanduser().resolve()
    view = View(home=home)
    if not home.is_dir():
        view.home_error = (f"The state folder {home} does not exist. Set AUTOBENCH_HOME to an "
                           "autobench state folder, or create one with `autobench init`.")
        return view
    store = StateStore(home)
    if not store.exists(REGISTRY):
        view.home_error = (f"{home} is not an autobench state folder (no {REGISTRY}). "
                           "Create one with `autobench init --home …`.")
        return view
    try:
        view.registry = store.load(REGISTRY)
        view.domain = view.registry.domain
    except Exception as exc:  # noqa: BLE001 — shown on the page, never a 500
        view.registry_error = _problem(exc)
    try:
        matrix = store.load(GAP_MATRIX)
        view.gap = matrix if (matrix.rows or store.exists(GAP_MATRIX)) else None
    except Exception as exc:  # noqa: BLE001
        view.gap_error = _problem(exc)
    try:
        view.queue = store.load(QUEUE)
    except Exception as exc:  # noqa: BLE001
        view.queue_error = _problem(exc)
    view.decisions, view.decision_errors = read_decisions(home)
    return view


def read_decisions(home: Path, limit: int = MAX_DECISIONS) -> tuple[list[tuple[str, Any]], list[str]]:
    """The newest ``limit`` valid decisions (path, Decision), newest first, and one line per invalid record."""
    from autobench.experiments import results

    found = results.decisions(home)
    return found.newest_first()[:limit], found.invalid


def state(home: Path | str) -> dict[str, Any]:
    """The page's data as plain JSON: gap matrix, queue (ranked and closed), latest decisions."""
    from autobench import hypothesis_queue as hq

    view = read(home)
    return {
        "home": str(view.home),
        "ok": view.home_error is None,
        "error": view.home_error,
        "domain": view.domain,
        "errors": [e for e in (view.registry_error, view.gap_error, view.queue_error) if e] + view.decision_errors,
        "gap_matrix": view.gap.model_dump(mode="json") if view.gap is not None else None,
        "queue": hq.listing(view.queue) if view.queue is not None else None,
        "decisions": [{"file": rel, **record.model_dump(mode="json")} for rel, record in view.decisions],
    }


# --------------------------------------------------------------------------- plots


def plots_available() -> bool:
    """Whether ``autobench.reporting.plots`` can be imported (another part of the package draws the PNGs)."""
    try:
        import autobench.reporting.plots  # noqa: F401
    except ImportError:
        return False
    return True


def render_plot(home: Path | str, name: str, folder: Path) -> Path | None:
    """Draw plot ``name`` into ``folder`` (never under the state folder). ``None``: nothing to show.

    ``None`` when the name is unknown, ``autobench.reporting.plots`` is not there, the state is missing or
    invalid, or the plot function has nothing to draw.
    """
    if name not in PLOTS:
        return None
    try:
        from autobench.reporting import plots
    except ImportError:
        return None
    home = Path(home).expanduser().resolve()
    if not home.is_dir():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    if name == "gap_over_time":
        from autobench.errors import AutobenchError
        from autobench.schemas import REGISTRY
        from autobench.store import StateStore

        try:
            registry = StateStore(home).load(REGISTRY)
        except AutobenchError:
            return None
        result = plots.gap_over_time(home, registry, target)
    else:
        result = plots.latest_experiment(home, target)
    if result is None:
        return None
    result = Path(result)
    return result if result.is_file() else None


# --------------------------------------------------------------------------- formatting


def _num(x: Any, digits: int = 3, signed: bool = False) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return esc(x)
    if isinstance(x, float) and not math.isfinite(x):
        return esc(x)
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def _when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return esc(value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return esc(value)


def _badge(text: str, kind: str | None = None) -> str:
    cls = "".join(ch for ch in (kind or text).lower() if ch.isalnum() or ch in "-_")
    return f'<span class="badge b-{cls}">{esc(text)}</span>'


def _error(message: str) -> str:
    return f'<p class="error">{esc(message)}</p>'


# --------------------------------------------------------------------------- sections


def _gap_section(view: View) -> str:
    out = ['<section id="gap"><h2>Gap matrix</h2>']
    if view.gap_error:
        out.append(_error(view.gap_error))
    elif view.gap is None or not view.gap.rows:
        out.append('<p class="muted">No gap matrix yet: it appears after the first monitor cycle '
                   "(the <code>leaderboard_monitor</code> DAG, or <code>autobench monitor</code>).</p>")
    else:
        g = view.gap
        boards = list(g.leaderboards) or sorted({b for r in g.rows for b in r.scores})
        out.append(f'<p class="muted">Generated {_when(g.generated_at)}'
                   + (f" by run <code>{esc(g.run_id)}</code>" if g.run_id else "") + ".</p>")
        out.append('<table class="grid"><thead><tr><th>Rank</th><th>System</th>'
                   + "".join(f'<th class="num">{esc(b)}</th>' for b in boards)
                   + '<th class="num">Δ to ours</th></tr></thead><tbody>')
        for row in sorted(g.rows, key=lambda r: r.rank):
            cells = []
            for b in boards:
                cell = _num(row.scores.get(b))
                if row.ours and row.current_scores and b in row.current_scores:
                    cell += (' <span class="muted small" title="our own measurement (decide), not the published score">'
                             f"measured {_num(row.current_scores[b], 4)}</span>")
                cells.append(f'<td class="num">{cell}</td>')
            if row.ours:
                delta = '<td class="num muted">—</td>'
            elif row.delta_to_ours is None:
                delta = '<td class="num muted">—</td>'
            else:
                tone = "ahead" if row.delta_to_ours > 0 else "behind" if row.delta_to_ours < 0 else "level"
                title = {"ahead": "we lead this system", "behind": "this system leads us",
                         "level": "level"}[tone]
                delta = f'<td class="num {tone}" title="{title}">{_num(row.delta_to_ours, signed=True)}</td>'
            cls = ' class="ours"' if row.ours else ""
            name = esc(row.system) + (' <span class="tag">ours</span>' if row.ours else "")
            out.append(f"<tr{cls}><td>#{row.rank}</td><td>{name}</td>{''.join(cells)}{delta}</tr>")
        out.append("</tbody></table>")
        out.append('<p class="muted small">Δ to ours: our score minus theirs, averaged over the '
                   'leaderboards both appear on; <span class="ahead">positive</span> = we lead, '
                   '<span class="behind">negative</span> = they lead.</p>')
    out.append("</section>")
    return "\n".join(out)


def _queue_section(view: View) -> str:
    from autobench import hypothesis_queue as hq
    from autobench.schemas import CLOSED_STATUSES

    out = ['<section id="queue"><h2>Experiment queue</h2>']
    if view.queue_error:
        out.append(_error(view.queue_error))
        out.append("</section>")
        return "\n".join(out)
    hyps = view.queue.hypotheses if view.queue is not None else []
    opened = hq.ranked(hyps)
    closed = [h for h in hyps if h.status in CLOSED_STATUSES]
    head = ('<table class="grid"><thead><tr><th>#</th><th>Id</th><th>Status</th><th class="num">Priority</th>'
            '<th>Effort</th><th class="num">Est. gain</th><th>Leaderboards</th><th>Title</th></tr></thead><tbody>')

    def row(i: str, h: Any) -> str:
        return (f"<tr><td>{i}</td><td><code>{esc(h.id)}</code></td><td>{_badge(h.status)}</td>"
                f'<td class="num">{esc(f"{h.priority_score:g}")}</td><td>{esc(h.implementation.effort)}</td>'
                f'<td class="num">{_num(h.implementation.estimated_gain, 4, signed=True)}</td>'
                f"<td>{esc(', '.join(h.target_leaderboards))}</td>"
                f'<td title="{esc(h.claim)}">{esc(h.title)}</td></tr>')

    out.append(f"<h3>Open ({len(opened)}), in the order the sweep takes them</h3>")
    if opened:
        out.append(head + "".join(row(str(i), h) for i, h in enumerate(opened, 1)) + "</tbody></table>")
    else:
        out.append('<p class="muted">No open hypotheses.</p>')
    out.append(f"<h3>Closed ({len(closed)})</h3>")
    if closed:
        out.append(head + "".join(row("", h) for h in closed) + "</tbody></table>")
    else:
        out.append('<p class="muted">None closed yet.</p>')
    out.append("</section>")
    return "\n".join(out)


def _decisions_section(view: View) -> str:
    from autobench.experiments import explain

    out = ['<section id="decisions"><h2>Latest decisions</h2>'
           f'<p class="muted">Newest first, up to {MAX_DECISIONS}.</p>']
    for message in view.decision_errors:
        out.append(_error(message))
    if not view.decisions:
        out.append('<p class="muted">No decisions yet: the experiment sweep records one decision per '
                   "experiment.</p>")
    for rel, d in view.decisions:
        out.append('<article class="decision">')
        out.append(f"<h3><code>{esc(d.hypothesis)}</code> {_badge(d.decision)} "
                   f'<span class="muted small">{_when(d.decided_at)} · status {esc(d.status)} · '
                   f"<code>{esc(rel)}</code></span></h3>")
        out.append(f'<p class="reason">{esc(d.reason)}</p>')
        if d.confirmation:
            out.append(f'<p class="reason">{_badge(d.status)} {esc(explain.confirmation_words(d))}</p>')
        out.append('<table class="grid"><thead><tr><th>Criterion</th><th>Result</th><th>Value</th>'
                   "<th>Requirement</th></tr></thead><tbody>")
        for c in d.criteria:
            verdict = _badge("PASS", "pass") if c.passed else _badge("FAIL", "fail")
            out.append(f"<tr><td>{esc(c.name)}</td><td>{verdict}</td>"
                       f"<td>{esc(explain.value_text(c))}</td>"
                       f"<td>{esc(c.requirement)}</td></tr>")
        out.append("</tbody></table></article>")
    out.append("</section>")
    return "\n".join(out)


def _plots_section() -> str:
    out = ['<section id="plots"><h2>Plots</h2>']
    if not plots_available():
        out.append('<p class="muted">Plots are not available in this installation '
                   "(<code>autobench.reporting.plots</code> is missing).</p></section>")
        return "\n".join(out)
    out.append('<div class="plots">')
    for name, caption in PLOTS.items():
        # The fallback text replaces a plot with nothing to show (the route answers 404).
        out.append(f'<figure><img src="plots/{esc(name)}.png" alt="{esc(caption)}" '
                   "onerror=\"this.style.display='none';this.nextElementSibling.style.display='block'\">"
                   f'<p class="muted noplot">Nothing to plot yet.</p><figcaption>{esc(caption)}</figcaption></figure>')
    out.append("</div></section>")
    return "\n".join(out)


CSS = """
:root { --fg:#1d2733; --muted:#66758a; --line:#dfe4ea; --bg:#f6f8fa; --ours:#fff6d6; --ok:#1a7f37; --bad:#c62828; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg);
       background:#fff; }
header { padding:14px 24px; border-bottom:1px solid var(--line); background:var(--bg); }
header h1 { margin:0; font-size:20px; } header p { margin:2px 0 0; }
nav a { margin-right:12px; color:#0b63c5; text-decoration:none; }
main { padding:8px 24px 32px; max-width:1280px; }
section { margin-top:22px; } h2 { font-size:17px; border-bottom:1px solid var(--line); padding-bottom:4px; }
h3 { font-size:14px; margin:14px 0 6px; }
table.grid { border-collapse:collapse; width:100%; margin:6px 0; }
.grid th, .grid td { border:1px solid var(--line); padding:4px 8px; text-align:left; vertical-align:top; }
.grid th { background:var(--bg); font-weight:600; }
.num { text-align:right !important; font-variant-numeric:tabular-nums; }
tr.ours td { background:var(--ours); font-weight:600; }
.ahead { color:var(--ok); font-weight:600; } .behind { color:var(--bad); font-weight:600; }
.level { color:var(--muted); }
.muted { color:var(--muted); } .small { font-size:12px; font-weight:normal; }
.error { color:var(--bad); background:#fdecea; border:1px solid #f5c2c0; padding:6px 10px; border-radius:4px; }
.tag { font-size:11px; background:#e8d48b; border-radius:3px; padding:0 4px; margin-left:4px; }
.badge { display:inline-block; font-size:11px; font-weight:600; border-radius:10px; padding:1px 8px;
         background:#e6e9ee; color:#37414d; text-transform:uppercase; letter-spacing:.02em; }
.b-pass, .b-promote, .b-promoted { background:#dcf5e3; color:var(--ok); }
.b-fail, .b-reject, .b-rejected, .b-failed, .b-rolled_back { background:#fde2e1; color:var(--bad); }
.b-running, .b-extend, .b-extended, .b-confirming { background:#dbeafe; color:#1e4fa8; }
.b-queued { background:#eef2ff; color:#3d4db7; } .b-backlog, .b-superseded { background:#f0f0f0; color:#6b6b6b; }
article.decision { border:1px solid var(--line); border-radius:6px; padding:4px 12px 8px; margin:10px 0; }
.reason { margin:4px 0 8px; }
.plots { display:flex; flex-wrap:wrap; gap:16px; }
figure { margin:0; flex:1 1 480px; } figure img { max-width:100%; border:1px solid var(--line); }
.noplot { display:none; border:1px dashed var(--line); padding:24px; text-align:center; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12.5px; }
"""


def page(home: Path | str) -> str:
    """The whole page, from the state folder at ``home``; never raises for bad state."""
    view = read(home)
    title = "autobench" + (f" — {view.domain}" if view.domain else "")
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{esc(title)}</h1>",
        f'<p class="muted small">State folder <code>{esc(view.home)}</code> (read-only view)</p>',
    ]
    if view.home_error:
        parts.append(f'</header><main><section><p class="error">{esc(view.home_error)}</p></section></main>')
    else:
        parts.append('<nav class="small"><a href="#gap">Gap matrix</a><a href="#queue">Queue</a>'
                     '<a href="#decisions">Decisions</a><a href="#plots">Plots</a>'
                     '<a href="api/state">JSON</a></nav></header><main>')
        if view.registry_error:
            parts.append(_error(view.registry_error))
        parts += [_gap_section(view), _queue_section(view), _decisions_section(view), _plots_section(), "</main>"]
    parts.append("</body></html>")
    return "\n".join(parts)
