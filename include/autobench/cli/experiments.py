"""Experiments: `run` seeds, one `sweep`, `decide` a promotion, and the statistics behind them
(`compare`, `variance`, `power`, `simulate`).

`run --config` is the lean path: this module imports only the standard library at its top.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from autobench.cli.common import EXIT_OK, CommandError, emit, home_of, now_of
from autobench.errors import AutobenchError


def add_run(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: expected integers like 1,2,3 (got {text!r})") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"--seeds: expected distinct integers like 1,2,3 (got {text!r})")
    return seeds


def _registry_solution(home) -> str | None:
    """our_solution.solution from the registry, read without the control plane's schemas."""
    import yaml

    try:
        data = yaml.safe_load((home / "competitive_registry.yaml").read_text(encoding="utf-8"))
        return data["our_solution"]["solution"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def cmd_run(args: argparse.Namespace) -> int:
    """The lean path with --config: standard library, pyyaml, and torch in the child only."""
    from autobench.experiments import runner
    from autobench.paths import resolve_home

    home = resolve_home(getattr(args, "home", None))
    from autobench.paths import check_experiment_id

    try:
        check_experiment_id(args.id)
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
    emit(args, data, lambda: "\n".join(
        f"seed {seed}: " + ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in sorted(r.metrics.items()))
        for seed, r in results.items()))
    return EXIT_OK


def add_sweep(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("sweep", parents=[common],
                       help="one experiment sweep: pick, fast validation, paired seeds, decide (the next hypothesis "
                            "after each decision, up to experiments.max_hypotheses_per_sweep), defend")
    p.add_argument("--hypothesis", metavar="ID", help="sweep this hypothesis instead of the top of the queue")
    from autobench.experiments import backends, seed_policies

    p.add_argument("--policy", choices=seed_policies.names(), help="seed policy (default: the registry's)")
    p.add_argument("--backend", choices=backends.names(),
                   help="experiment backend (default: the registry's); the command line runs one whose runs "
                        "execute here (local), pods run through the experiment_sweep DAG")
    p.add_argument("--no-defence", action="store_true", help="skip production's re-evaluation on a fresh seed")
    p.add_argument("--run-id", help="key of this sweep (default: manual__<now>)")
    p.set_defaults(handler=cmd_sweep)


NOTHING = {"queue empty": "the queue has no open hypothesis", "budget spent": "today's compute budget is spent",
           "limit reached": "the sweep's limit is reached"}


def cmd_sweep(args: argparse.Namespace) -> int:
    """Decisions until the queue is empty, the budget is spent or ``max_hypotheses_per_sweep``
    is reached; ``--json``: ``{"decisions": [{hypothesis, decision, runs, criteria, report, …}],
    "stopped": "queue empty" | "budget spent" | "limit reached", "defence": …}``."""
    from autobench.clock import iso
    from autobench.experiments.sweep import cycle
    from autobench.store import StateStore

    now = now_of(args)
    quiet = getattr(args, "json", False)
    result = cycle(StateStore(home_of(args)), now, args.run_id or f"manual__{iso(now)}", hypothesis=args.hypothesis,
                   policy=args.policy, backend=args.backend, defence=not args.no_defence,
                   progress=None if quiet else (lambda line: print(line, file=sys.stderr, flush=True)))

    def show() -> str:
        from autobench.experiments import explain

        lines: list[str] = []
        for one in result["decisions"]:
            lines += [f"{one['hypothesis']}: {one['decision'].upper()} ({one['runs']} runs) — report {one['report']}",
                      *explain.lines(one["criteria"]), one["reason"]]
            if one.get("confirmation") or one.get("confirming"):
                lines.append(explain.confirmation_words(one) or f"confirming on fresh seeds {one['confirming']}")
            if one.get("alert"):
                lines.append(one["alert"])
        n = len(result["decisions"])
        if not n:
            lines.append(f"nothing to sweep: {NOTHING[result['stopped']]}")
        else:
            lines.append(f"{n} decision{'' if n == 1 else 's'}; stopped: {result['stopped']}")
        d = result.get("defence")
        if d:
            lines.append(d["alert"] or f"defence: production seed {d['seed']} scored {d['score']} (no regression)")
        return "\n".join(lines)

    emit(args, result, show)
    return EXIT_OK


def add_decide(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("decide", parents=[common],
                       help="the promotion decision for one experiment: promote, reject or extend")
    p.add_argument("id", metavar="ID", help="a hypothesis id")
    from autobench.experiments import seed_policies

    p.add_argument("--policy", choices=seed_policies.names(),
                   help="seed policy (default: the registry's experiments.seed_policy)")
    p.add_argument("--dry-run", action="store_true", help="print the decision and write nothing")
    p.set_defaults(handler=cmd_decide)


def cmd_decide(args: argparse.Namespace) -> int:
    from autobench.experiments.decide import decide
    from autobench.store import StateStore

    home = home_of(args)
    record = decide(StateStore(home), args.id, now_of(args), policy=args.policy, write=not args.dry_run)

    def text() -> str:
        from autobench.experiments import explain

        lines = [f"{record.hypothesis}: {record.decision.upper()} (status {record.status})"
                 + (" [already decided]" if record.replayed else ""), *explain.lines(record.criteria)]
        pj = record.projection
        lines.append(f"  projection: {pj.get('leaderboard')} rank #{pj.get('current_rank')} "
                     f"-> #{pj.get('projected_rank')}, P(#1) = {pj.get('p_first')}")
        lines.append(record.reason)
        if record.confirmation:
            from autobench.experiments.confirmation import alert_line

            lines.append(explain.confirmation_words(record))
            if alert_line(record):
                lines.append(alert_line(record))
        if args.dry_run:
            lines.append("(dry run: nothing written)")
        return "\n".join(lines)

    emit(args, record.as_dict(), text)
    return EXIT_OK


def add_compare(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("compare", parents=[common], help="statistics of two sets of per-seed scores")
    p.add_argument("control", metavar="CONTROL", help="JSON file: a list of scores, or {seed: score}")
    p.add_argument("candidate", metavar="CANDIDATE", help="JSON file: a list of scores, or {seed: score}")
    p.add_argument("--paired", action="store_true", help="pair by seed (or position); differing seeds are an error")
    p.set_defaults(handler=cmd_compare)


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
            (f"bootstrap ({r['bootstrap_method']}): 95% CI [{r['bootstrap_ci95_diff'][0]:+.6g}, "
             f"{r['bootstrap_ci95_diff'][1]:+.6g}]" if r["bootstrap_ci95_diff"] else
             f"bootstrap: {r['bootstrap_method']}"),
            f"Cohen's {r['cohens_d_kind']}: {r['cohens_d']:.4g}",
            f"control n={r['n_control']} mean={r['mean_control']:.6g} std={r['std_control']:.3g}"
            + (" HIGH VARIANCE" if r["high_variance_control"] else ""),
            f"candidate n={r['n_candidate']} mean={r['mean_candidate']:.6g} std={r['std_candidate']:.3g}"
            + (" HIGH VARIANCE" if r["high_variance_candidate"] else ""),
        ])

    emit(args, result, text)
    return EXIT_OK


def add_variance(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("variance", parents=[common],
                       help="coefficient of variation of the mean vs seeds, minimum N, PNG plot")
    p.add_argument("scores", metavar="SCORES",
                   help="JSON file of per-seed scores, or an experiment id (its full runs in the home)")
    p.add_argument("--threshold", type=float, default=0.05, help="CV of the mean to get under (default 0.05 = 5%%)")
    p.add_argument("--metric", help="with an experiment id: the metric (default: the primary metric)")
    p.add_argument("--plot", metavar="PNG", help="write the plot here")
    p.set_defaults(handler=cmd_variance)


def _scores_or_runs(args: argparse.Namespace, source: str) -> tuple[Any, str]:
    """A JSON file of scores, or an experiment id's full runs of its current config (seed -> metric)."""
    import os

    if os.path.exists(source) or source.endswith(".json"):
        return _scores(source), source
    from autobench.experiments import results
    from autobench.experiments.config import spec_for
    from autobench.store import StateStore

    home = home_of(args)
    spec = spec_for(StateStore(home), source)
    metric = getattr(args, "metric", None) or spec.primary_metric
    done, _ = results.runs(home, source, spec.config_hash, "full")
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
        rows = [f"{label}: {r['n_pilot']} seeds, mean {r['mean']:.6g}, sd {r['std']:.3g} "
                f"(CV per seed {100 * r['cv_per_seed']:.3g}%)",
                "  N  CV of mean (expected)  (resampled)"]
        for n, e, m in zip(r["n"], r["cv_of_mean"], r["cv_of_mean_resampled"], strict=True):
            rows.append(f"{n:>3}  {100 * e:>10.4f}%  {100 * m:>14.4f}%")
        rows.append(f"minimum N for CV < {100 * r['threshold']:g}%: {r['min_n']}"
                    + ("" if r["min_n_within_pilot"] else " (extrapolated beyond the pilot)"))
        if args.plot:
            rows.append(f"plot: {args.plot}")
        return "\n".join(rows)

    emit(args, result, text)
    return EXIT_OK


def add_power(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("power", parents=[common],
                       help="seeds needed to detect an effect at 80%% power, from pilot variance")
    p.add_argument("pilot", metavar="PILOT",
                   help="JSON file of per-seed scores, or an experiment id (its full runs in the home)")
    p.add_argument("--candidate", metavar="FILE",
                   help="a paired pilot of the candidate (same seeds): measures the sd of differences")
    p.add_argument("--effect", type=float, help="the gain to detect (default: the registry's promotion_threshold)")
    p.add_argument("--power", type=float, default=0.8, dest="target_power")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--correlation", type=float, default=0.0,
                   help="assumed correlation of two configs on one seed, without a paired pilot "
                        "(default 0: conservative)")
    p.set_defaults(handler=cmd_power)


def cmd_power(args: argparse.Namespace) -> int:
    from autobench.experiments.statistics import StatisticsError, power_from_pilot

    pilot, label = _scores_or_runs(args, args.pilot)
    candidate = _scores(args.candidate) if args.candidate else None
    effect = args.effect
    if effect is None:
        from autobench.schemas import REGISTRY
        from autobench.store import StateStore

        try:
            effect = StateStore(home_of(args)).load(REGISTRY).promotion_threshold
        except AutobenchError as exc:
            raise CommandError(
                f"power: give --effect, or a home with a registry ({str(exc).splitlines()[0]})"
            ) from None
    try:
        result = power_from_pilot(pilot, effect, candidate, alpha=args.alpha, power=args.target_power,
                                  assumed_correlation=args.correlation)
    except StatisticsError as exc:
        raise CommandError(f"power {label}: {exc}") from None
    result["source"] = label
    emit(args, result, lambda: (f"{result['n']} paired seeds detect a gain of {effect:g} with power "
                                 f"{result['achieved_power']:.3f} (target {args.target_power:g}, two-sided alpha "
                                 f"{args.alpha:g}); sd of a paired difference {result['sd_diff']:.3g} "
                                 f"from {result['sd_source']}"))
    return EXIT_OK


def add_simulate(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("simulate", parents=[common], help="measure a seed policy on a simulated stream of hypotheses")
    p.add_argument("--hypotheses", type=int, required=True, metavar="N", help="how many hypotheses")
    from autobench.experiments import seed_policies

    p.add_argument("--policy", choices=seed_policies.names(), required=True)
    p.add_argument("--scenario", default="default", help="default (fixed by the issue), measured, noisy")
    p.add_argument("--mix", metavar="FILE", help="a mix file (YAML: effects in units of the threshold, and the "
                   "noise; benchmarks/mixes/ has examples): replaces the scenario's effects and noise")
    from autobench.experiments.promotion import IMPROVEMENT_RULES, REPRODUCIBILITY_RULES

    p.add_argument("--rule", choices=IMPROVEMENT_RULES, default="estimate",
                   help="the improvement rule (the registry's experiments.improvement_rule): estimate or margin")
    p.add_argument("--reproducibility", choices=REPRODUCIBILITY_RULES, default="mean_share",
                   help="the reproducibility rule (the registry's experiments.reproducibility)")
    p.add_argument("--false-promotion-budget", type=float, metavar="ALPHA", dest="fdr_budget",
                   help="enforce the stream-wide control (LORD++) at this budget, as "
                        "experiments.false_promotion_control: enforce does (default: not enforced)")
    p.add_argument("--confirmation-seeds", type=int, default=0, metavar="K",
                   help="confirm every promotion on K fresh seeds, rolling back what they contradict, as "
                        "experiments.confirmation_seeds does (default 0: no confirmation)")
    from autobench.experiments.simulator import CONTROLS

    p.add_argument("--controls", choices=CONTROLS, default="shared",
                   help="production's control runs: shared by every hypothesis of a production period, as the "
                        "results cache shares them (default), or fresh for each hypothesis")
    p.add_argument("--control-windows", type=int, default=1, metavar="W",
                   help="pair hypothesis i on window i mod W of control seeds, as experiments.control_windows "
                        "(default 1: every hypothesis of a production period on the same control runs)")
    p.add_argument("--seed", type=int, default=0, help="the simulation's random seed")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="a policy knob, e.g. futility_full=0.6 or stages=1,3,5,8 (repeatable)")
    p.set_defaults(handler=cmd_simulate)


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
    scenario: Any = args.scenario
    if args.mix:
        from autobench.experiments.simulator import load_mix

        try:
            scenario = load_mix(args.mix, base=args.scenario)
        except KeyError:
            raise CommandError(f"simulate: unknown scenario {args.scenario!r}") from None
    quiet = getattr(args, "json", False)
    result = simulate(args.hypotheses, policy, scenario, args.seed, rule=args.rule,
                      reproducibility=args.reproducibility, fdr_budget=args.fdr_budget,
                      confirmation_seeds=args.confirmation_seeds, controls=args.controls,
                      control_windows=args.control_windows,
                      progress=None if quiet else (lambda line: print(line, file=sys.stderr, flush=True)))

    def text() -> str:
        r = result
        fp, pw, sr = r["false_promotion_rate_ci95"], r["power_ci95"], r["seed_runs_per_hypothesis_ci95"]
        return "\n".join([
            f"{r['policy']} on {r['hypotheses']} hypotheses (scenario {r['scenario']['name']}, seed {r['seed']}, "
            f"improvement rule {r['improvement_rule']})",
            f"  false promotion share {r['false_promotion_share']:.4f} (95% CI {fp[0]}-{fp[1]}) "
            f"of {r['promotions']} promotions",
            f"  below the threshold  {r['below_threshold_share']:.4f}",
            f"  coverage of the 95% interval {r['coverage'] if r['coverage'] is None else round(r['coverage'], 4)}",
            f"  power                {r['power']:.4f} (95% CI {pw[0]}-{pw[1]})",
            f"  seed runs            {r['seed_runs']} = {r['seed_runs_per_hypothesis']:.3f} per hypothesis "
            f"(95% CI {sr[0]}-{sr[1]})",
            f"  broken caught        {r['broken_caught']} of {r['broken']}",
            *([f"  rolled back          {r['rolled_back']} of {r['selected']} promotions on "
               f"{r['confirmation_seeds']} fresh seeds ({r['rolled_back_eligible']} of them truly ≥ the threshold)"]
              if r["confirmation_seeds"] else []),
        ])

    emit(args, result, text)
    return EXIT_OK


def add_calibration(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("calibration", parents=[common],
                       help="estimated vs realised gains of closed hypotheses, per source kind and technique")
    p.set_defaults(handler=cmd_calibration)


def cmd_calibration(args: argparse.Namespace) -> int:
    from autobench.experiments.calibration import calibration

    result = calibration(home_of(args))

    def text() -> str:
        if not result["sources"]:
            return "no closed hypothesis with a measured gain yet"
        lines = [f"{'source':<14} {'n':>3} {'ratio':>7}  95% CI"]
        for r in result["sources"]:
            ci = f"{r['interval'][0]:.2f} to {r['interval'][1]:.2f}" if r["interval"] else "n/a (n < 2)"
            ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "n/a"
            lines.append(f"{r['source']:<14} {r['n']:>3} {ratio:>7}  {ci}")
        return "\n".join(lines)

    emit(args, result, text)
    return EXIT_OK


COMMANDS = {"run": add_run, "sweep": add_sweep, "decide": add_decide, "compare": add_compare,
            "variance": add_variance, "power": add_power, "simulate": add_simulate, "calibration": add_calibration}
