"""
### experiment_sweep: hypotheses become evidence, evidence becomes production

**When:** every day at 08:00, and as soon as the monitor raises `autobench://urgent` (the run's
log says which leaderboard and why).

**Tasks:** `pick` (the best open hypothesis, within today's compute budget; only urgent work once
it is spent) → rounds of `plan_k` → the runs, mapped (`run_k` in the `gpu` pool for the `local`
backend, `pod_k` pods for `kubernetes`) → `collect_k`, until the seed policy is satisfied →
`finalize` (promote, reject or extend; after a promotion the one test-split evaluation and the
leaderboard submission; `BENCHMARK_REPORT.md` beside the runs) → `defend` (production on a fresh
seed, an alert when it regresses beyond its noise).

**Params:** `hypothesis` (default: the top of the queue), `seed_policy` and `backend` (default:
the registry's `experiments` block), `urgent` (replaying a trigger by hand).

A retried or re-run task runs nothing twice. The rules live in `autobench.experiments` (its
`__init__` maps the modules; `sweep.py` is the cycle); the same cycle on the command line is
`autobench sweep`.
"""

from __future__ import annotations

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import Asset, Param, TriggerRule, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from autobench import orchestration
from autobench.experiments import backends, seed_policies
from autobench.experiments.backends.kubernetes import static_pod_kwargs
from autobench.experiments.sweep import ROUNDS
from autobench_airflow.alerts import on_failure

URGENT = Asset(orchestration.ASSET_URGENT)
POD_SETTINGS = orchestration.experiment_settings().kubernetes  # read at parse time; defaults without a home


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 8 * * *", timezone="UTC"), assets=[URGENT]),
    start_date=orchestration.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=orchestration.default_args(on_failure_callback=on_failure),
    doc_md=__doc__,
    tags=["autobench", "experiments"],
    params={
        "hypothesis": Param(None, type=["null", "string"],
                            description="sweep this hypothesis (default: the top of the queue)"),
        "seed_policy": Param(None, type=["null", "string"], enum=[None, *seed_policies.names()],
                             description="default: the registry's experiments.seed_policy"),
        "backend": Param(None, type=["null", "string"], enum=[None, *backends.names()],
                         description="default: the registry's experiments.backend"),
        "urgent": Param(None, type=["null", "object"],
                        description="replaying an urgent trigger by hand: {leaderboard, reason} as the monitor's "
                                    "event had them"),
    },
)
def experiment_sweep():
    @task(multiple_outputs=False)
    def pick(**context) -> dict | None:
        """Recover stale runs, re-rank with urgency, pick the top hypothesis, mark it running."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_prepare
        from autobench_airflow.triggers import triggered_by

        return sweep_prepare(clock.from_context(context), context["run_id"], dict(context["params"]),
                             trigger=triggered_by(context))

    @task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def plan(chosen: dict | None, **context) -> dict:
        """The runs the seed policy wants next (none once it is satisfied)."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_plan

        return sweep_plan(chosen, clock.from_context(context))

    @task(multiple_outputs=False)
    def part(planned: dict, key: str) -> list:
        """One part of the plan: the runs, or the payloads of one executor (what the next mapped tasks expand over)."""
        return planned[key]

    @task(pool=orchestration.GPU_POOL, multiple_outputs=False,
          map_index_template="{{ payload.get('experiment_id', '') }} {{ payload.get('mode', '') }} "
                             "{{ 'seeds ' ~ payload['seeds'] | join(',') if 'seeds' in payload "
                             "else 'seed ' ~ payload.get('seed', '') }}")
    def run(chosen: dict, payload: dict) -> dict:
        """One run on this worker (a backend whose runs execute in a task: `local`): one seed, or
        a batch of seeds (`experiments.local.seeds_per_task`); a crash or NaN is data, not a task failure."""
        from autobench.experiments.tasks import sweep_run

        return sweep_run(chosen, payload)

    @task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def collect(chosen: dict | None, requests: list, task_outputs: list | None = None, pod_outputs: list | None = None,
                **context) -> list:
        """What the round's tasks or pods returned, recorded beside the runs (pods' through XCom)."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_collect

        return sweep_collect(chosen, requests, task_outputs, pod_outputs, clock.from_context(context))

    @task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def finalize(chosen: dict | None, **context) -> dict:
        """decide; after a promotion the test-split evaluation and the submission; the report."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_finalize
        from autobench_airflow.connections import submission_token

        token = submission_token()
        return sweep_finalize(chosen, clock.from_context(context), token)

    @task(pool=orchestration.GPU_POOL, multiple_outputs=False)
    def defend(**context) -> dict:
        """Production on a fresh seed; an alert when it regresses beyond its own noise."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_defend

        check = sweep_defend(clock.from_context(context), context["run_id"])
        if check.get("alert"):
            from autobench.reporting import alerts
            from autobench_airflow.alerts import slack_notifier

            notifier = slack_notifier()
            if notifier is not None:
                alerts.post(notifier, "autobench: production regressed", [check["alert"]])
        return check

    chosen = pick()
    previous = chosen
    for k in range(ROUNDS):
        planned = plan.override(task_id=f"plan_{k}")(chosen)
        previous >> planned
        tasks = run.override(task_id=f"run_{k}").partial(chosen=chosen).expand(
            payload=part.override(task_id=f"tasks_{k}")(planned, "task"))
        pods = KubernetesPodOperator.partial(task_id=f"pod_{k}", pool=orchestration.GPU_POOL,
                                             **static_pod_kwargs(POD_SETTINGS)).expand_kwargs(
            part.override(task_id=f"pods_{k}")(planned, "pod"))
        requests = part.override(task_id=f"requests_{k}")(planned, "requests")
        previous = collect.override(task_id=f"collect_{k}")(chosen, requests, tasks, pods.output)
    done = finalize(chosen)
    previous >> done
    done >> defend()


experiment_sweep()
