"""
### experiment_sweep: hypotheses become evidence, evidence becomes production (seed 002 §4.2, 5–7)

Every day at 08:00, and as soon as the monitor raises `autobench://urgent`:

1. **pick** — a hypothesis left `running` by a sweep that died is put back with a note; the
   queue is re-ranked with the monitor's urgency (top 10 `queued`, the rest `backlog`); the top
   open hypothesis (extended ones first) is marked `running`. Once today's compute budget
   (`experiments.compute_budget_gpu_hours_per_day`) is spent, only urgent work runs.
2. **rounds** (`plan_k` → runs) until the seed policy (`experiments.seed_policy`: `fixed` or
   `adaptive`) is satisfied: the fast validation first (a broken config stops there and is
   archived as `failed`), then paired full seeds on production's seeds, as many as the policy
   asks for. Production's runs come from the cache. Each run is one mapped task in the `gpu`
   pool on the worker (`local` backend) or one mapped `KubernetesPodOperator` pod
   (`kubernetes` backend: the experiment image, a GPU limit, the state volume from a PVC,
   non-root; metrics also come back through XCom). The config travels with each request.
   `experiments.local.seeds_per_task` (or `kubernetes.seeds_per_pod`) above 1 packs seeds of
   one config into one task, trained together in one process (vectorised on a GPU).
3. **finalize** — `decide`: promote (the config to production, `CHANGELOG.md`, the one
   evaluation on the test split into `eval_on_leaderboard.json`, and a submission where the
   leaderboard accepts one), reject (a note naming each failed criterion) or extend (more seeds
   next sweep); `BENCHMARK_REPORT.md` beside the runs.
4. **defend** — production on a fresh seed; an alert when its latest fresh seeds regress beyond
   its own noise, naming the environment changes its runs recorded.

An Asset-triggered run logs what started it (the leaderboard and the reason). Trigger it by hand with **Params**: a hypothesis id, a seed policy, a backend. Everything is
keyed on the run id: a retried or re-run task runs nothing twice (the run cache), and a second
sweep picks the next hypothesis. The same cycle from the command line: `autobench sweep`.
"""

from __future__ import annotations

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import Asset, Param, TriggerRule, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from autobench import orchestration
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
        "hypothesis": Param(None, type=["null", "string"], description="sweep this hypothesis (default: the top of the queue)"),
        "seed_policy": Param(None, type=["null", "string"], enum=[None, "fixed", "adaptive"],
                             description="default: the registry's experiments.seed_policy"),
        "backend": Param(None, type=["null", "string"], enum=[None, "local", "kubernetes"],
                         description="default: the registry's experiments.backend"),
        "urgent": Param(None, type=["null", "object"],
                        description="replaying an urgent trigger by hand: {leaderboard, reason} as the monitor's event had them"),
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
        """One backend's share of the plan (what the next mapped tasks expand over)."""
        return planned[key]

    @task(pool=orchestration.GPU_POOL, multiple_outputs=False, map_index_template="{{ request['run_id'] }} "
          "{{ request['mode'] }} {{ 'seeds ' ~ request['seeds'] | join(',') if 'seeds' in request "
          "else 'seed ' ~ request['seed'] }}")
    def run(request: dict, **context) -> dict:
        """One seed, or a batch of seeds (`experiments.local.seeds_per_task`), on this worker
        (`local` backend); a crash or NaN is data, not a task failure."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_run_local

        return sweep_run_local(request, clock.from_context(context))

    @task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def collect(requests: list, results: list | None = None, **context) -> list:
        """What the pods pushed through XCom, recorded beside the runs."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_collect_pods

        return sweep_collect_pods(requests, results, clock.from_context(context))

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
        local = run.override(task_id=f"run_{k}").expand(request=part.override(task_id=f"local_{k}")(planned, "local"))
        pods = KubernetesPodOperator.partial(task_id=f"pod_{k}", pool=orchestration.GPU_POOL,
                                             **static_pod_kwargs(POD_SETTINGS)).expand_kwargs(
            part.override(task_id=f"pods_{k}")(planned, "pods"))
        collected = collect.override(task_id=f"collect_{k}")(part.override(task_id=f"pod_requests_{k}")(planned, "pod_requests"),
                                                              pods.output)
        previous = [local, collected]
    done = finalize(chosen)
    previous >> done
    done >> defend()


experiment_sweep()
