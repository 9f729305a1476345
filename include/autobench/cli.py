"""The ``autobench`` command: every step of the loop, runnable without Airflow.

Common options on every command: ``--json`` (one JSON document on stdout), ``--home`` (the state
folder; default ``$AUTOBENCH_HOME``, else ``./autobench_home``) and ``--now`` (ISO 8601 UTC; the
time every decision uses). Bad input exits 1 with one line on stderr naming the file and field.

Subcommands import what they need when they run, so ``autobench --help`` and
``autobench validate`` start fast and the experiment path never pulls in the control plane.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from autobench import __version__
from autobench.errors import AutobenchError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CommandError(AutobenchError):
    """A problem with the user's input, reported as one line on stderr."""


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document on stdout")
    common.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                        help="the state folder (default: $AUTOBENCH_HOME, else ./autobench_home)")
    common.add_argument("--now", metavar="ISO8601", default=argparse.SUPPRESS,
                        help="the time decisions use, in UTC, e.g. 2026-01-05T06:00:00Z (default: the current time)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="autobench", parents=[common],
        description="Keep an ML solution at #1 on its leaderboards: the steps of the loop, one command each.",
        epilog="State lives in AUTOBENCH_HOME (see `autobench init`). Docs: README.md, docs/.",
    )
    parser.add_argument("--version", action="version", version=f"autobench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", parents=[common], help="create a state folder from an example shipped in the package")
    p.add_argument("--example", default="recall", help="example name (default: recall)")
    p.add_argument("--list", action="store_true", help="list the examples and exit")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("validate", parents=[common], help="check every state file against its schema, and the folders against the queue")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("run", parents=[common], help="run an experiment: a hypothesis (or production) on seeds")
    p.add_argument("id", metavar="ID", help="a hypothesis id, or `production`")
    seeds = p.add_mutually_exclusive_group(required=True)
    seeds.add_argument("--seed", type=int, help="one seed")
    seeds.add_argument("--seeds", type=_seed_list, help="several seeds, comma-separated (e.g. 1,2,3)")
    p.add_argument("--fast", action="store_true", help="fast validation: a data subset, to catch broken configs")
    p.add_argument("--force", action="store_true", help="run again even if a complete result is cached")
    p.add_argument("--config", metavar="FILE", help="the config ready-made (YAML or JSON; - for stdin) instead of "
                   "working it out from the state files: a bare config, or {solution, config, fast_subset}")
    p.add_argument("--verbose", action="store_true", help="stream the solution's own output to stderr")
    p.add_argument("--batched", action=argparse.BooleanOptionalAction, default=None,
                   help="run the seeds together in one process, vectorised over seeds (the solution's "
                   "`<function>_batched` variant; same per-seed results, faster on a GPU). Default: batched "
                   "when a GPU is visible and the solution has that variant, one by one otherwise")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("compare", parents=[common], help="statistics of two sets of per-seed scores")
    p.add_argument("control", metavar="CONTROL", help="JSON file: a list of scores, or {seed: score}")
    p.add_argument("candidate", metavar="CANDIDATE", help="JSON file: a list of scores, or {seed: score}")
    p.add_argument("--paired", action="store_true", help="pair by seed (or position); differing seeds are an error")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("decide", parents=[common], help="the promotion decision for one experiment: promote, reject or extend")
    p.add_argument("id", metavar="ID", help="a hypothesis id")
    p.add_argument("--policy", choices=["fixed", "adaptive"], help="seed policy (default: the registry's experiments.seed_policy)")
    p.add_argument("--dry-run", action="store_true", help="print the decision and write nothing")
    p.set_defaults(handler=cmd_decide)

    p = sub.add_parser("simulate", parents=[common], help="measure a seed policy on a simulated stream of hypotheses")
    p.add_argument("--hypotheses", type=int, required=True, metavar="N", help="how many hypotheses")
    p.add_argument("--policy", choices=["fixed", "adaptive"], required=True)
    p.add_argument("--scenario", default="default", help="default (fixed by the issue), measured, noisy")
    p.add_argument("--seed", type=int, default=0, help="the simulation's random seed")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="a policy knob, e.g. futility_full=0.6 or stages=1,3,5,8 (repeatable)")
    p.set_defaults(handler=cmd_simulate)

    p = sub.add_parser("variance", parents=[common], help="coefficient of variation of the mean vs seeds, minimum N, PNG plot")
    p.add_argument("scores", metavar="SCORES", help="JSON file of per-seed scores, or a run id (its full runs in the home)")
    p.add_argument("--threshold", type=float, default=0.05, help="CV of the mean to get under (default 0.05 = 5%%)")
    p.add_argument("--metric", help="with a run id: the metric (default: the primary metric)")
    p.add_argument("--plot", metavar="PNG", help="write the plot here")
    p.set_defaults(handler=cmd_variance)

    p = sub.add_parser("power", parents=[common], help="seeds needed to detect an effect at 80%% power, from pilot variance")
    p.add_argument("pilot", metavar="PILOT", help="JSON file of per-seed scores, or a run id (its full runs in the home)")
    p.add_argument("--candidate", metavar="FILE", help="a paired pilot of the candidate (same seeds): measures the sd of differences")
    p.add_argument("--effect", type=float, help="the gain to detect (default: the registry's promotion_threshold)")
    p.add_argument("--power", type=float, default=0.8, dest="target_power")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--correlation", type=float, default=0.0,
                   help="assumed correlation of two configs on one seed, without a paired pilot (default 0: conservative)")
    p.set_defaults(handler=cmd_power)

    p = sub.add_parser("scrape", parents=[common], help="scrape one leaderboard page and print its rows")
    p.add_argument("url", metavar="URL", help="http(s)://, file:// or a path")
    p.add_argument("--method", required=True, choices=["html_table", "api", "rss", "manual"])
    p.add_argument("--metric", required=True, help="the score's column (html_table: header text; api: dotted path)")
    p.add_argument("--system-column", help="the system's column (default: the first mostly-text column)")
    p.add_argument("--table", type=int, help="html_table: which table, counted from 1")
    p.add_argument("--selector", help="html_table: a CSS selector for the table")
    p.add_argument("--records", help="api: dotted path to the records")
    p.add_argument("--pattern", help="rss: regex with named groups system and score")
    p.set_defaults(handler=cmd_scrape)

    p = sub.add_parser("monitor", parents=[common], help="one monitor cycle: scrape every leaderboard, delta report, gap matrix, triggers")
    p.add_argument("--run-id", help="key of this cycle (default: manual__<now>)")
    p.set_defaults(handler=cmd_monitor)

    p = sub.add_parser("gap", parents=[common], help="the gap matrix from the latest snapshots")
    p.set_defaults(handler=cmd_gap)

    p = sub.add_parser("papers", parents=[common], help="search arXiv (AUTOBENCH_ARXIV_URL overrides the API address)")
    p.add_argument("--query", required=True, help="an arXiv search query")
    p.add_argument("--max", type=int, default=20, dest="max_results", help="at most this many papers (default 20)")
    p.set_defaults(handler=cmd_papers)

    p = sub.add_parser("extract", parents=[common], help="techniques and reported gains in a paper's text")
    p.add_argument("file", metavar="FILE", help="a text file with the title and abstract; - for stdin")
    p.set_defaults(handler=cmd_extract)

    p = sub.add_parser("ingest", parents=[common], help="one research ingest cycle: papers -> techniques -> hypotheses")
    p.add_argument("--run-id", help="key of this cycle (default: manual__<now>)")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("sweep", parents=[common], help="one experiment sweep: pick, fast validation, paired seeds, decide, defend")
    p.add_argument("--hypothesis", metavar="ID", help="sweep this hypothesis instead of the top of the queue")
    p.add_argument("--policy", choices=["fixed", "adaptive"], help="seed policy (default: the registry's)")
    p.add_argument("--backend", choices=["local"], help="only local runs from the command line")
    p.add_argument("--no-defence", action="store_true", help="skip production's re-evaluation on a fresh seed")
    p.add_argument("--run-id", help="key of this sweep (default: manual__<now>)")
    p.set_defaults(handler=cmd_sweep)

    p = sub.add_parser("digest", parents=[common], help="the weekly digest (digests/<week>.md, TECHNICAL_LOG.md, escalation briefs)")
    p.add_argument("--send", action="store_true", help="post it to Slack: AUTOBENCH_SLACK_TOKEN, AUTOBENCH_SLACK_CHANNEL, "
                   "AUTOBENCH_SLACK_API_URL (default Slack's own API)")
    p.set_defaults(handler=cmd_digest)

    q = sub.add_parser("queue", parents=[common], help="the hypothesis queue")
    qsub = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True)
    p = qsub.add_parser("list", parents=[common], help="open hypotheses ranked, and the closed ones")
    p.set_defaults(handler=cmd_queue_list)
    p = qsub.add_parser("add", parents=[common], help="validate, number, score and queue hypotheses from a YAML file")
    p.add_argument("file", metavar="FILE", help="YAML file with one hypothesis, `hypotheses: [...]` or a list; - for stdin")
    p.set_defaults(handler=cmd_queue_add)
    p = qsub.add_parser("rank", parents=[common], help="re-rank: the top 10 waiting hypotheses queued, the rest backlog")
    p.set_defaults(handler=cmd_queue_rank)
    return parser


# ----------------------------------------------------------------------------- helpers


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: expected integers like 1,2,3 (got {text!r})") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"--seeds: expected distinct integers like 1,2,3 (got {text!r})")
    return seeds


def _emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write((text() if callable(text) else text) + "\n")


def _home(args: argparse.Namespace):
    from autobench.home import resolve_home

    return resolve_home(getattr(args, "home", None))


def _now(args: argparse.Namespace):
    from autobench import clock

    raw = getattr(args, "now", None)
    return clock.parse_now(raw) if raw else clock.wall_clock()


def _read_input(path: str) -> tuple[str, Any]:
    """(display name, plain data) of a YAML file or stdin, loaded safely."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from autobench.store import _yaml_error

    name = "<stdin>" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise CommandError(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{name}: not UTF-8 text") from None
    try:
        return name, YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise _yaml_error(name, exc) from None


# ----------------------------------------------------------------------------- commands


def cmd_init(args: argparse.Namespace) -> int:
    from autobench import home

    if args.list:
        names = home.examples()
        _emit(args, {"examples": names}, "\n".join(names))
        return EXIT_OK
    target = _home(args)
    created = home.init(target, args.example)
    _emit(args, {"home": str(target), "example": args.example, "created": created},
          f"created {target} from the {args.example!r} example ({len(created)} files)")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from autobench.home import validate

    report = validate(_home(args))

    def text() -> str:
        lines = [f"{name}: {state}" for name, state in report.files.items()]
        lines += [f"warning: {w}" for w in report.warnings]
        lines.append(f"{report.home}: " + ("valid" if report.ok else f"{len(report.errors)} problem(s)"))
        return "\n".join(lines)

    _emit(args, report.as_dict(), text)
    if not report.ok:
        for line in report.errors:
            print(line, file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """The lean path with --config: standard library, pyyaml, and torch in the child only."""
    from autobench.experiments import runner
    from autobench.paths import resolve_home

    home = resolve_home(getattr(args, "home", None))
    from autobench.paths import check_run_id

    try:
        check_run_id(args.id)
    except ValueError as exc:
        raise CommandError(f"run: {exc}") from None
    if args.config:
        import yaml

        name = "<stdin>" if args.config == "-" else args.config
        try:
            text = sys.stdin.read() if args.config == "-" else open(args.config, encoding="utf-8").read()
            data = yaml.safe_load(text)
        except OSError as exc:
            raise CommandError(f"{name}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise CommandError(f"{name}: invalid YAML: {str(exc).splitlines()[0]}") from None
        spec = runner.spec_from_mapping(args.id, data, name, _registry_solution(home))
    else:
        from autobench.experiments.config import spec_for
        from autobench.store import StateStore

        spec = spec_for(StateStore(home), args.id)
    seeds = [args.seed] if args.seed is not None else args.seeds
    batched = args.batched
    if batched is None and args.seeds is not None and runner.batch_by_default(spec, seeds):
        batched = True
        print(f"a GPU is visible: seeds {','.join(map(str, seeds))} run batched (--no-batched: one by one)",
              file=sys.stderr, flush=True)
    run = runner.run_seeds_batched if batched else runner.run_seeds
    results = run(home, spec, seeds, fast=args.fast, force=args.force,
                  progress=lambda line: print(line, file=sys.stderr, flush=True),
                  verbose=sys.stderr if args.verbose else None)
    if args.seed is not None:
        data = results[args.seed].metrics
    else:
        data = {str(seed): r.metrics for seed, r in results.items()}
    _emit(args, data, lambda: "\n".join(
        f"seed {seed}: " + ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in sorted(r.metrics.items()))
        for seed, r in results.items()))
    return EXIT_OK


def _registry_solution(home) -> str | None:
    """our_solution.solution from the registry, read without the control plane's schemas."""
    import yaml

    try:
        data = yaml.safe_load((home / "competitive_registry.yaml").read_text(encoding="utf-8"))
        return data["our_solution"]["solution"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def _scores(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise CommandError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, (list, dict)):
        raise CommandError(f"{path}: expected a list of scores or an object {{seed: score}}")
    return data


def cmd_compare(args: argparse.Namespace) -> int:
    from autobench.experiments.statistics import StatisticsError, compare

    control, candidate = _scores(args.control), _scores(args.candidate)
    try:
        result = compare(control, candidate, paired=True if args.paired else None)
    except StatisticsError as exc:
        raise CommandError(f"compare {args.control} {args.candidate}: {exc}") from None

    def text() -> str:
        r = result
        return "\n".join([
            f"{r['test']}: mean diff {r['mean_diff']:+.6g} (candidate - control), 95% CI [{r['ci95_diff'][0]:+.6g}, "
            f"{r['ci95_diff'][1]:+.6g}], t={r['t_statistic']:.4g}, df={r['df']:.4g}, p={r['p_ttest']:.4g}",
            f"{r['wilcoxon_method']}: p={r['p_wilcoxon']:.4g}",
            f"bootstrap ({r['bootstrap_method']}): 95% CI [{r['bootstrap_ci95_diff'][0]:+.6g}, {r['bootstrap_ci95_diff'][1]:+.6g}]",
            f"Cohen's {r['cohens_d_kind']}: {r['cohens_d']:.4g}",
            f"control n={r['n_control']} mean={r['mean_control']:.6g} std={r['std_control']:.3g}"
            + (" HIGH VARIANCE" if r["high_variance_control"] else ""),
            f"candidate n={r['n_candidate']} mean={r['mean_candidate']:.6g} std={r['std_candidate']:.3g}"
            + (" HIGH VARIANCE" if r["high_variance_candidate"] else ""),
        ])

    _emit(args, result, text)
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    from autobench.experiments.decide import decide
    from autobench.store import StateStore

    home = _home(args)
    record = decide(StateStore(home), args.id, _now(args), policy=args.policy, write=not args.dry_run)

    def text() -> str:
        lines = [f"{record['hypothesis']}: {record['decision'].upper()} (status {record['status']})"
                 + (" [already decided]" if record.get("replayed") else "")]
        for c in record["criteria"]:
            value = c["value"] if not isinstance(c["value"], dict) else ", ".join(f"{k}={v}" for k, v in c["value"].items())
            lines.append(f"  {'PASS' if c['passed'] else 'FAIL'} {c['name']:<16} {value}  (needs {c['requirement']})")
        pj = record["projection"]
        lines.append(f"  projection: {pj.get('leaderboard')} rank #{pj.get('current_rank')} -> #{pj.get('projected_rank')}, "
                     f"P(#1) = {pj.get('p_first')}")
        lines.append(record["reason"])
        if args.dry_run:
            lines.append("(dry run: nothing written)")
        return "\n".join(lines)

    _emit(args, record, text)
    return EXIT_OK


def _knobs(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise CommandError(f"--knob: expected NAME=VALUE (got {item!r})")
        try:
            out[name] = [int(v) for v in raw.split(",")] if "," in raw else json.loads(raw)
        except ValueError:
            raise CommandError(f"--knob {name}: {raw!r} is not a number or a list of integers") from None
    return out


def cmd_simulate(args: argparse.Namespace) -> int:
    from autobench.experiments.seed_policies import get
    from autobench.experiments.simulator import simulate

    try:
        policy = get(args.policy, **_knobs(args.knob))
    except (TypeError, ValueError) as exc:
        raise CommandError(f"simulate: {exc}") from None
    quiet = getattr(args, "json", False)
    result = simulate(args.hypotheses, policy, args.scenario, args.seed,
                      progress=None if quiet else (lambda line: print(line, file=sys.stderr, flush=True)))

    def text() -> str:
        r = result
        fp, pw, sr = r["false_promotion_rate_ci95"], r["power_ci95"], r["seed_runs_per_hypothesis_ci95"]
        return "\n".join([
            f"{r['policy']} on {r['hypotheses']} hypotheses (scenario {r['scenario']['name']}, seed {r['seed']})",
            f"  false promotion rate {r['false_promotion_rate']:.4f} (95% CI {fp[0]}-{fp[1]}) of {r['promotions']} promotions",
            f"  power                {r['power']:.4f} (95% CI {pw[0]}-{pw[1]})",
            f"  seed runs            {r['seed_runs']} = {r['seed_runs_per_hypothesis']:.3f} per hypothesis "
            f"(95% CI {sr[0]}-{sr[1]})",
            f"  broken caught        {r['broken_caught']} of {r['broken']}",
        ])

    _emit(args, result, text)
    return EXIT_OK


def _scores_or_runs(args: argparse.Namespace, source: str) -> tuple[Any, str]:
    """A JSON file of scores, or a run id's full runs of its current config (seed -> metric)."""
    import os

    if os.path.exists(source) or source.endswith(".json"):
        return _scores(source), source
    from autobench.experiments.config import spec_for
    from autobench.experiments.decide import runs
    from autobench.store import StateStore

    home = _home(args)
    spec = spec_for(StateStore(home), source)
    metric = getattr(args, "metric", None) or spec.primary_metric
    done, _ = runs(home, source, spec.config_hash, "full")
    scores = {str(s): m[metric] for s, m in done.items() if isinstance(m.get(metric), (int, float))}
    if not scores:
        raise CommandError(f"{source}: no complete full runs of config {spec.config_hash} with {metric!r} in {home}")
    return scores, f"{source} ({metric}, config {spec.config_hash})"


def cmd_variance(args: argparse.Namespace) -> int:
    from autobench.experiments.statistics import StatisticsError, plot_variance, variance_vs_n

    scores, label = _scores_or_runs(args, args.scores)
    try:
        result = variance_vs_n(scores, args.threshold)
    except StatisticsError as exc:
        raise CommandError(f"variance {label}: {exc}") from None
    result["source"] = label
    if args.plot:
        result["plot"] = plot_variance(result, args.plot, title=f"Variance vs seeds: {label}")

    def text() -> str:
        r = result
        rows = [f"{label}: {r['n_pilot']} seeds, mean {r['mean']:.6g}, sd {r['std']:.3g} (CV per seed {100 * r['cv_per_seed']:.3g}%)",
                "  N  CV of mean (expected)  (resampled)"]
        for n, e, m in zip(r["n"], r["cv_of_mean"], r["cv_of_mean_resampled"], strict=True):
            rows.append(f"{n:>3}  {100 * e:>10.4f}%  {100 * m:>14.4f}%")
        rows.append(f"minimum N for CV < {100 * r['threshold']:g}%: {r['min_n']}"
                    + ("" if r["min_n_within_pilot"] else " (extrapolated beyond the pilot)"))
        if args.plot:
            rows.append(f"plot: {args.plot}")
        return "\n".join(rows)

    _emit(args, result, text)
    return EXIT_OK


def cmd_power(args: argparse.Namespace) -> int:
    from autobench.experiments.statistics import StatisticsError, power_from_pilot

    pilot, label = _scores_or_runs(args, args.pilot)
    candidate = _scores(args.candidate) if args.candidate else None
    effect = args.effect
    if effect is None:
        from autobench.schemas import REGISTRY
        from autobench.store import StateStore

        try:
            effect = StateStore(_home(args)).load(REGISTRY).promotion_threshold
        except AutobenchError as exc:
            raise CommandError(f"power: give --effect, or a home with a registry ({str(exc).splitlines()[0]})") from None
    try:
        result = power_from_pilot(pilot, effect, candidate, alpha=args.alpha, power=args.target_power,
                                  assumed_correlation=args.correlation)
    except StatisticsError as exc:
        raise CommandError(f"power {label}: {exc}") from None
    result["source"] = label
    _emit(args, result, lambda: (f"{result['n']} paired seeds detect a gain of {effect:g} with power "
                                 f"{result['achieved_power']:.3f} (target {args.target_power:g}, two-sided alpha "
                                 f"{args.alpha:g}); sd of a paired difference {result['sd_diff']:.3g} from {result['sd_source']}"))
    return EXIT_OK


def cmd_scrape(args: argparse.Namespace) -> int:
    from autobench.monitor.scrape import ScrapeOptions, scrape

    options = ScrapeOptions(metric=args.metric, system_column=args.system_column, table=args.table,
                            selector=args.selector, records=args.records, pattern=args.pattern)
    home = _home(args) if getattr(args, "home", None) else None
    got = scrape(args.url, args.method, options, home=home)
    rows = [{"rank": r.rank, "system": r.system, "score": r.score} for r in got.rows or []]
    _emit(args, rows, lambda: "\n".join(f"{'' if r['rank'] is None else r['rank']:>4}  {r['score']:>10g}  {r['system']}"
                                        for r in rows) or "(no rows)")
    return EXIT_OK


def cmd_monitor(args: argparse.Namespace) -> int:
    from autobench.clock import iso
    from autobench.monitor.cycle import run_cycle
    from autobench.store import StateStore

    now = _now(args)
    result = run_cycle(StateStore(_home(args)), now, args.run_id or f"manual__{iso(now)}")

    def text() -> str:
        from autobench.monitor.standings import markdown

        lines = result["alerts"] + result["status"]
        lines += [f"[REFUSED] {r['leaderboard']}: {r['reason']}" for r in result["refused"]]
        lines += [f"[TRIGGER] {t}" for t in result["triggers"]]
        return "\n".join(lines + ["", markdown(result["gap_matrix"])])

    _emit(args, result, text)
    return EXIT_ERROR if result["refused"] else EXIT_OK


def cmd_gap(args: argparse.Namespace) -> int:
    from autobench.monitor.cycle import boards_at
    from autobench.monitor.standings import gap_matrix, markdown
    from autobench.schemas import REGISTRY
    from autobench.store import StateStore

    store = StateStore(_home(args))
    registry = store.load(REGISTRY)
    pairs = boards_at(store.home, registry, run_id="")
    matrix = gap_matrix([after for _, after in pairs], registry.our_solution.name, registry.our_solution.current_scores)
    _emit(args, matrix, lambda: markdown(matrix) if matrix["rows"] else "no snapshots yet: run `autobench monitor`")
    return EXIT_OK


def cmd_papers(args: argparse.Namespace) -> int:
    from autobench.research.paper_sources import ArxivSource

    if args.max_results < 1:
        raise CommandError("papers: --max must be at least 1")
    papers = [p.as_dict() for p in ArxivSource(args.query, max_results=args.max_results,
                                                 page_size=min(100, args.max_results)).fetch(None)]
    _emit(args, papers, lambda: "\n".join(f"{p['id']}v{p['version'] or 1}  {p['published'][:10]}  {p['title']}"
                                          for p in papers) or "(no papers)")
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    import os

    from autobench.research.techniques import extract, load_catalog
    from autobench.schemas import REGISTRY
    from autobench.store import StateStore

    name = "<stdin>" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    except OSError as exc:
        raise CommandError(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{name}: not UTF-8 text") from None
    home = _home(args)
    boards: list[tuple[str, list[str]]] = []
    if os.path.exists(home / REGISTRY):
        registry = StateStore(home).load(REGISTRY)
        boards = [(lb.name, [lb.name, *lb.aliases]) for lb in registry.target_leaderboards]
    result = extract(text, load_catalog(home if home.is_dir() else None), boards)

    def show() -> str:
        lines = [f"{t['name']} ({t['category']}, effort {t['effort']}, impact {t['impact'] or 'unknown'}) "
                 f"patch {json.dumps(t['config_patch'])}" for t in result["techniques"]]
        lines += [f"gain {g['gain']:+.3f} ({g['unit']}) on {g['leaderboard'] or '?'}: {g['text']}" for g in result["reported_gains"]]
        return "\n".join(lines) or "(nothing found)"

    _emit(args, result, show)
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    from autobench.clock import iso
    from autobench.research.ingest import run_cycle
    from autobench.store import StateStore

    now = _now(args)
    result = run_cycle(StateStore(_home(args)), now, args.run_id or f"manual__{iso(now)}")

    def show() -> str:
        r = result
        lines = [f"{r['papers_fetched']} papers fetched, {r['papers_new']} new, {len(r['relevant'])} relevant, "
                 f"{r['techniques']} techniques, hypotheses added: {', '.join(r['hypotheses_added']) or 'none'}"]
        lines += [f"[ERROR] {e['source']}: {e['reason']}" for e in r["errors"]]
        lines += [f"[GAP] {note}" for note in r["gap_notes"]]
        return "\n".join(lines)

    _emit(args, result, show)
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from autobench.clock import iso
    from autobench.experiments.sweep import sweep
    from autobench.store import StateStore

    now = _now(args)
    quiet = getattr(args, "json", False)
    result = sweep(StateStore(_home(args)), now, args.run_id or f"manual__{iso(now)}", hypothesis=args.hypothesis,
                   policy=args.policy, backend=args.backend, defence=not args.no_defence,
                   progress=None if quiet else (lambda line: print(line, file=sys.stderr, flush=True)))

    def show() -> str:
        if result["hypothesis"] is None:
            lines = ["nothing to sweep: the queue has no open hypothesis (or today's compute budget is spent)"]
        else:
            lines = [f"{result['hypothesis']}: {result['decision'].upper()} ({result['runs']} runs) — report {result['report']}",
                     result["reason"]]
        d = result.get("defence")
        if d:
            lines.append(d["alert"] or f"defence: production seed {d['seed']} scored {d['score']} (no regression)")
        return "\n".join(lines)

    _emit(args, result, show)
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    from autobench.reporting.digest import run
    from autobench.store import StateStore

    result = run(StateStore(_home(args)), _now(args), send=args.send)
    data = {"markdown": result["markdown"], "blocks": result["blocks"], "digest": result["digest"],
            "briefs": result["briefs"], "sent": result["sent"]}
    _emit(args, data, lambda: result["markdown"] + "".join(f"\n[ESCALATION] {b}" for b in result["briefs"])
          + (f"\n[SENT] {result['sent'].get('channel')} {result['sent'].get('ts')}" if result["sent"] else ""))
    return EXIT_OK


def cmd_queue_list(args: argparse.Namespace) -> int:
    from autobench import hypothesis_queue as hq
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    queue = StateStore(_home(args)).load(QUEUE)
    _emit(args, hq.listing(queue), lambda: hq.format_table(queue))
    return EXIT_OK


def cmd_queue_add(args: argparse.Namespace) -> int:
    from autobench import hypothesis_queue as hq
    from autobench.store import StateStore

    name, data = _read_input(args.file)
    added = hq.add(StateStore(_home(args)), name, data, _now(args))
    _emit(args, {"added": [h.model_dump(mode="json") for h in added]},
          "\n".join(f"added {h.id} ({h.status}, priority {h.priority_score:g}): {h.title}" for h in added))
    return EXIT_OK


def cmd_queue_rank(args: argparse.Namespace) -> int:
    from autobench import hypothesis_queue as hq
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    store = StateStore(_home(args))
    changes = hq.rank(store)
    queue = store.load(QUEUE)
    data = {"changes": [{"id": i, "from": a, "to": b} for i, a, b in changes], **hq.listing(queue)}
    _emit(args, data, lambda: "\n".join([f"{i}: {a} -> {b}" for i, a, b in changes] + [hq.format_table(queue)]))
    return EXIT_OK


# ----------------------------------------------------------------------------- entry point


def _known_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [AutobenchError]
    try:
        from filelock import Timeout

        errors.append(Timeout)
    except ImportError:  # the lean experiment image has no filelock
        pass
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "now", None):
            _now(args)  # refuse a bad --now before doing anything
        return args.handler(args)
    except KeyboardInterrupt:
        print("autobench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `autobench queue list | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if isinstance(exc, _known_errors()):
            print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
            return EXIT_ERROR
        if isinstance(exc, (NotADirectoryError, IsADirectoryError, FileNotFoundError, PermissionError)):
            # e.g. --home naming a file: one line naming the path, not a traceback
            print(f"autobench: {exc.filename or ''}: {exc.strerror or exc}".replace(" : ", " "), file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
