"""
### experiment_sweep: hypotheses become evidence, evidence becomes production

**When:** every day at 08:00, and as soon as the monitor raises `autobench://urgent` (the run's
log says which leaderboard and why).

**Tasks:** turns. `turn_0` picks the best open hypotheses (up to
`experiments.max_parallel_hypotheses` at once, within today's compute budget; only urgent work
once it is spent) and plans each one's first round; the runs are mapped (`run_k` on the `gpu`
queue and pool for the `local` backend; `pods_k` → `pod_k` pods when the registry's backend is
`kubernetes`); `turn_k+1` collects them, decides every hypothesis whose seed policy is
satisfied (promote, reject or extend; `BENCHMARK_REPORT.md` beside the runs; with
`experiments.confirmation_seeds` a promotion stays in flight one more round, both configs on
fresh seeds, and is confirmed or rolled back), gives its slot to the next item in the queue and
plans the next round for all in flight, until the queue is empty, the budget is spent or
`experiments.max_hypotheses_per_sweep` decisions are made → `finalize` (on the `gpu` queue: what
is still in flight is decided; after a promotion the one test-split evaluation and the
leaderboard submission; an alert for a rolled-back promotion) → `defend` (production on a fresh
seed, an alert when it regresses beyond its noise). The number of turns is fixed when the DAG is
parsed, from those settings; the turns after the sweep found nothing more to run are skipped.
The sweep's progress between turns is in `state/sweep.json` (`turns`).

**Params:** `hypothesis` (default: the top of the queue; then only that one), `seed_policy` and
`backend` (default: the registry's `experiments` block; pod backends are offered when the
registry's backend runs pods), `urgent` (replaying a trigger by hand).

A retried or re-run task runs nothing twice. The rules live in `autobench.experiments` (its
`__init__` maps the modules; `sweep.py` is the cycle, `tasks.py` these tasks); the same cycle on
the command line is `autobench sweep`.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, TriggerRule, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from autobench import orchestration
from autobench.experiments import backends, seed_policies
from autobench.experiments.sweep import dag_turns
from autobench_airflow.alerts import on_failure
from autobench_airflow.deployment import gpu_queue
from autobench_airflow.pods import pod_operator

URGENT = Asset(orchestration.ASSET_URGENT)
SETTINGS = orchestration.experiment_settings()  # read at parse time; defaults without a home
TURNS = dag_turns(SETTINGS)
BACKENDS, PODS = backends.dag_choices(SETTINGS.backend)


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
        "backend": Param(None, type=["null", "string"], enum=[None, *BACKENDS],
                         description="default: the registry's experiments.backend (pod backends: set it there)"),
        "urgent": Param(None, type=["null", "object"],
                        description="replaying an urgent trigger by hand: {leaderboard, reason} as the monitor's "
                                    "event had them"),
    },
)
def experiment_sweep():
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def turn(k: int, task_outputs: list | None = None, pod_outputs: list | None = None, **context) -> list:
        """Collect the last round, decide what is decided, refill the slots, plan the next round:
        the runs for `run_k` (the pods' kwargs under the XCom key `pod`)."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_turn
        from autobench_airflow.triggers import triggered_by
        from autobench_airflow.turns import hand_on

        return hand_on(sweep_turn(k, clock.from_context(context), context["run_id"], dict(context["params"]),
                                  task_outputs, pod_outputs, trigger=triggered_by(context) if k == 0 else None,
                                  pods=PODS), context)

    @task
    def pods(payloads: list) -> list:
        """The pods this turn starts (what `pod_k` maps over; skipped when there are none)."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not payloads:
            raise AirflowSkipException("no pods this turn (the local backend's runs are run_k)")
        return payloads

    @task(pool=orchestration.GPU_POOL, queue=gpu_queue(), multiple_outputs=False,
          map_index_template="{{ payload.get('experiment_id', '') }} {{ payload.get('mode', '') }} "
                             "{{ 'seeds ' ~ payload['seeds'] | join(',') if 'seeds' in payload "
                             "else 'seed ' ~ payload.get('seed', '') }}")
    def run(pick: dict, payload: dict) -> dict:
        """One run on this worker (a backend whose runs execute in a task: `local`): one seed, or
        a batch of seeds (`experiments.local.seeds_per_task`); a crash or NaN is data, not a task failure."""
        from autobench.experiments.tasks import sweep_run

        return sweep_run(pick, payload)

    @task(pool=orchestration.GPU_POOL, queue=gpu_queue(), multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def finalize(task_outputs: list | None = None, pod_outputs: list | None = None, **context) -> dict:
        """Decide what is still in flight; after a promotion the test-split evaluation and the submission;
        an alert for a promotion its confirmation rolled back."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_finish
        from autobench_airflow.alerts import post_alert
        from autobench_airflow.connections import submission_token
        from autobench_airflow.turns import final

        result = final(sweep_finish, TURNS, clock.from_context(context), context["run_id"], task_outputs,
                       pod_outputs, submission_token())
        post_alert("autobench: a promotion did not hold on fresh seeds", result.get("alerts"))
        return result

    @task(pool=orchestration.GPU_POOL, queue=gpu_queue(), multiple_outputs=False)
    def defend(**context) -> dict:
        """Production on a fresh seed; an alert when it regresses beyond its own noise."""
        from autobench import clock
        from autobench.experiments.tasks import sweep_defend
        from autobench_airflow.alerts import post_alert

        check = sweep_defend(clock.from_context(context), context["run_id"])
        post_alert("autobench: production regressed", check.get("alert"))
        return check

    step = turn.override(task_id="turn_0")(0)
    for k in range(TURNS):
        runs = run.override(task_id=f"run_{k}").expand_kwargs(step)
        started = None
        if PODS:
            started = pod_operator(f"pod_{k}", SETTINGS.kubernetes, orchestration.GPU_POOL).expand_kwargs(
                pods.override(task_id=f"pods_{k}")(step["pod"])).output
        after = turn.override(task_id=f"turn_{k + 1}")(k + 1, runs, started) if k + 1 < TURNS else finalize(
            runs, started)
        step >> after
        step = after
    step >> defend()


experiment_sweep()
