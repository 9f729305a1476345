"""The schemas of every state file, in one place.

Each file under ``AUTOBENCH_HOME`` has one pydantic model here. Unknown keys are errors (they
are usually typos), and an invalid file is refused whole with ``file: field: what is wrong``.
Later parts of the loop add the keys they need to these models, never a schema of their own.

:data:`FILES` lists every state file: the YAML files people edit, and the machine-written
JSON bookkeeping under ``state/``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from autobench.errors import StateError
from autobench.paths import EXPERIMENT_ID_RE

# --------------------------------------------------------------------------- vocabulary

Effort = Literal["Low", "Medium", "High"]
Impact = Literal["Low", "Medium", "High"]
EFFORT_SCORE: dict[str, int] = {"Low": 1, "Medium": 2, "High": 4}
IMPACT_SCORE: dict[str, int] = {"Low": 1, "Medium": 2, "High": 3}

OPEN_STATUSES: tuple[str, ...] = ("queued", "backlog", "running", "extended", "confirming")
CLOSED_STATUSES: tuple[str, ...] = ("promoted", "rejected", "failed", "superseded", "rolled_back")
WAITING_STATUSES: tuple[str, ...] = ("queued", "backlog")
Status = Literal["queued", "backlog", "running", "extended", "confirming", "promoted", "rejected", "failed",
                 "superseded", "rolled_back"]


def _scrape_method(name: str) -> str:
    """A registered scrape method (:data:`autobench.monitor.scrape.REGISTRY`, runtime ones too)."""
    from autobench.monitor.scrape import REGISTRY as SCRAPE_METHODS

    return SCRAPE_METHODS.check(name)


ScrapeMethod = Annotated[str, AfterValidator(_scrape_method)]
URGENCY_MULTIPLIERS: dict[str, float] = {
    "rank_dropped": 3.0,
    "new_entrant_within_5pct": 2.0,
    "gap_widened": 1.5,
    "none": 1.0,
}
#: A gap to #1 wider than this (percent) is beyond tuning: research plans no experiment for it,
#: and the digest escalates it when nothing queued closes it.
ARCHITECTURAL_GAP_PCT = 5.0
QUEUE_ACTIVE_LIMIT = 10  # the top 10 waiting hypotheses are `queued`, the others `backlog`
PRODUCTION_ID = "production"
HYPOTHESIS_ID_RE = EXPERIMENT_ID_RE  # the one id rule: a hypothesis id, or production
NUMBERED_ID_RE = re.compile(r"^H-(\d+)$")


class Strict(BaseModel):
    """Base of every schema: unknown keys are refused, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)


NonEmpty = Field(min_length=1)


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} {v!r} appears twice")
        seen.add(v)
    return values


# --------------------------------------------------------------------------- competitive_registry.yaml


class VictoryConditions(Strict):
    """What "#1" means on one leaderboard: the rank to hold, the lead to keep, for how long."""

    rank: int = Field(1, ge=1, description="the rank we must hold (1 = top entry by the primary metric)")
    margin: float = Field(0.0, ge=0,
                          description="points we must lead the next entry by, on the leaderboard's own scale")
    sustained_cycles: int = Field(1, ge=1, description="consecutive monitor cycles the position must hold")


class Submission(Strict):
    """A leaderboard that accepts API submissions: a POST after each promotion."""

    url: str = Field(min_length=1, description="the endpoint the promoted result is POSTed to")
    connection_id: str = Field("autobench_submission", description="Airflow connection whose password is the token "
                               "(the command line reads AUTOBENCH_SUBMISSION_TOKEN)")


class Leaderboard(Strict):
    name: str = NonEmpty
    url: str = Field(min_length=1, description="http(s):// or file:// URL, or a path relative to AUTOBENCH_HOME")
    scrape_method: ScrapeMethod
    primary_metric: str = NonEmpty
    higher_is_better: bool = True
    scale: Literal["fraction", "percent"] = "fraction"
    description: str = ""
    aliases: list[str] = Field(default_factory=list, description="other names of this leaderboard (papers, posts)")
    table: int | None = Field(None, ge=1, description="html_table: which table, counted from 1")
    selector: str | None = Field(None, description="html_table: CSS selector of the table")
    system_column: str | None = Field(None,
                                      description="column (html_table, csv) or dotted path (api) of the system name")
    records: str | None = Field(None, description="api: dotted path to the records")
    pattern: str | None = Field(None, description="rss: regex with named groups `system` and `score`")
    victory: VictoryConditions = Field(default_factory=VictoryConditions)
    submission: Submission | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            compiled = re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        missing = {"system", "score"} - set(compiled.groupindex)
        if missing:
            raise ValueError("the pattern needs named groups (?P<system>…) and (?P<score>…); "
                             f"missing {sorted(missing)}")
        return v

    @model_validator(mode="after")
    def _method_options(self) -> Leaderboard:
        if self.scrape_method == "rss" and not self.pattern:
            raise ValueError("scrape_method rss needs a `pattern` with named groups system and score")
        return self


class Competitor(Strict):
    name: str = NonEmpty
    latest_score: float | None = None
    source: str = Field(min_length=1, description="the leaderboard this score is from")
    last_updated: date | None = None
    aliases: list[str] = Field(default_factory=list)
    url: str | None = Field(None, description="technical report or feed, read to reverse-engineer what they did")


class OurSolution(Strict):
    name: str = NonEmpty
    solution: str = Field(description="the experiment callable, `module:function`")
    config: dict[str, Any] = Field(default_factory=dict, description="production's config")
    aliases: list[str] = Field(default_factory=list, description="other names our system has on leaderboards")
    seeds: list[int] = Field(default_factory=lambda: [1, 2, 3], min_length=1)
    metric_map: dict[str, str] = Field(default_factory=dict, description="leaderboard -> our metric")
    current_scores: dict[str, float] = Field(default_factory=dict,
                                             description="our own measurements; written only by decide")
    published_scores: dict[str, float] = Field(default_factory=dict,
                                               description="as scraped; written only by the monitor")

    @field_validator("config")
    @classmethod
    def _config_keeps_the_split(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _no_test_split(v)

    @field_validator("solution")
    @classmethod
    def _module_function(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", v):
            raise ValueError(f"must be `module:function`, e.g. autobench.workloads.recall:train_and_evaluate "
                             f"(got {v!r})")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds_unique(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        if any(s < 0 for s in v):
            raise ValueError("seeds must be non-negative")
        return v


class KubernetesSettings(Strict):
    """Pod settings for the `kubernetes` experiment backend."""

    namespace: str = "autobench"
    image: str = "autobench-experiment:0.1.0"
    pvc: str = Field("autobench-home", description="PersistentVolumeClaim holding AUTOBENCH_HOME")
    gpus: int = Field(1, ge=0)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "2", "memory": "8Gi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"cpu": "4", "memory": "16Gi"})
    service_account: str | None = None
    seeds_per_pod: int = Field(1, ge=1, description="1: a pod per seed; more: one pod runs a batch of seeds")


class LocalSettings(Strict):
    """Settings for the `local` experiment backend (runs on the Airflow worker)."""

    seeds_per_task: int = Field(
        1, ge=1, description="1: a mapped task per seed; more: one task trains up to this many seeds of one config "
                             "in one process, vectorised over seeds when the solution has a batched variant "
                             "(a GPU worker)")


def _backend_name(v: str) -> str:
    from autobench.experiments.backends import REGISTRY as BACKENDS

    return BACKENDS.check(v)


def _policy_name(v: str) -> str:
    from autobench.experiments.seed_policies import REGISTRY as POLICIES

    return POLICIES.check(v)


def _improvement_rule(v: str) -> str:
    from autobench.experiments.promotion import IMPROVEMENT_RULES

    if v not in IMPROVEMENT_RULES:
        raise ValueError(f"{v!r} is not an improvement rule (choose from {', '.join(IMPROVEMENT_RULES)})")
    return v


def _reproducibility_rule(v: str) -> str:
    from autobench.experiments.promotion import REPRODUCIBILITY_RULES

    if v not in REPRODUCIBILITY_RULES:
        raise ValueError(f"{v!r} is not a reproducibility rule (choose from {', '.join(REPRODUCIBILITY_RULES)})")
    return v


class ExperimentsSettings(Strict):
    backend: str = Field("local", description="an experiment backend (autobench.experiments.backends.REGISTRY)")
    seed_policy: str = Field("fixed", description="a seed policy (autobench.experiments.seed_policies.REGISTRY)")
    seed_policy_options: dict[str, Any] = Field(
        default_factory=dict, description="the policy's knobs, e.g. {stages: [1, 3, 5, 8], futility_full: 0.7}")
    improvement_rule: str = Field(
        "estimate", description="when a gain reaches promotion_threshold: estimate (the mean paired gain ≥ the "
                                "threshold) or margin (the lower end of the gain's 95% interval ≥ the threshold)")
    reproducibility: str = Field(
        "mean_share", description="when a candidate's seeds agree well enough: mean_share (std < 0.5% of the mean) "
                                  "or production_noise (std not above production's own beyond chance, F-test at 1%)")
    false_promotion_budget: float = Field(
        0.05, gt=0, lt=1, description="the stream-wide false-discovery budget (LORD++, experiments/fdr.py): every "
                                      "final decision gets its level from it, recorded in the decision")
    false_promotion_control: Literal["record", "enforce"] = Field(
        "record", description="record: each decision records its LORD++ level and whether it was a discovery; "
                              "enforce: a promotion also needs its p-value within that level")
    confirmation_seeds: int = Field(
        0, ge=0, le=20, description="fresh seeds every promotion is confirmed on, the winner and the config it "
                                    "replaced both run on them (experiments/confirmation.py): status confirming "
                                    "until then; a promotion they contradict is rolled back. 0 turns confirmation "
                                    "off")
    control_windows: int = Field(
        1, ge=1, le=64, description="windows of control seeds: hypothesis N is paired with production on window "
                                    "N mod this (production's seeds + 100000 × the window), so one unlucky cached "
                                    "production run sways a share of the hypotheses, not every one until the next "
                                    "promotion; 1 (the default) pairs every hypothesis on production's seeds")
    compute_budget_gpu_hours_per_day: float = Field(8.0, gt=0)
    fast_subset: float = Field(0.1, gt=0, le=1, description="share of the data a fast validation uses")
    max_parallel_hypotheses: int = Field(
        1, ge=1, description="hypotheses a sweep keeps in flight at once (their runs of a round run together)")
    max_hypotheses_per_sweep: int = Field(
        1, ge=1, description="decisions one sweep makes before it stops; 1 (the default) decides one hypothesis "
                             "per sweep, as before; raising it makes a sweep go on to the next item in the queue "
                             "after each decision (until the queue is empty or today's budget is spent)")
    stale_after_minutes: float = Field(
        120, gt=0, description="a running hypothesis whose sweep has not renewed its lease for this long is "
                               "recovered by the next sweep (the lease is a wall-clock heartbeat: liveness only)")
    local: LocalSettings = Field(default_factory=LocalSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)


    _backend = field_validator("backend")(_backend_name)
    _seed_policy = field_validator("seed_policy")(_policy_name)
    _rule = field_validator("improvement_rule")(_improvement_rule)
    _reproducibility = field_validator("reproducibility")(_reproducibility_rule)

    @model_validator(mode="after")
    def _policy_knobs(self) -> ExperimentsSettings:
        from autobench.experiments import seed_policies

        try:
            seed_policies.get(self.seed_policy, **self.seed_policy_options)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"seed_policy_options: {exc}") from None
        return self


class TriggerSettings(Strict):
    gap_widened_pct: float = Field(1.0, gt=0, description="gap to #1 growth (percentage points) that triggers research")
    new_entrant_within_pct: float = Field(5.0, gt=0, description="a new entrant this close to our score raises urgency")


class Registry(Strict):
    """competitive_registry.yaml: the single source of truth for what we compete on, and how."""

    domain: str = NonEmpty
    description: str = ""
    target_leaderboards: list[Leaderboard] = Field(min_length=1)
    competitors: list[Competitor] = Field(default_factory=list)
    our_solution: OurSolution
    promotion_threshold: float = Field(gt=0, description="minimum gain in the primary metric's units")
    triggers: TriggerSettings = Field(default_factory=TriggerSettings)
    experiments: ExperimentsSettings = Field(default_factory=ExperimentsSettings)

    @model_validator(mode="after")
    def _cross_references(self) -> Registry:
        names = [lb.name for lb in self.target_leaderboards]
        _unique(names, "leaderboard")
        known = set(names)
        for field in ("metric_map", "current_scores", "published_scores"):
            for key in getattr(self.our_solution, field):
                if key not in known:
                    raise ValueError(
                        f"our_solution.{field}: unknown leaderboard {key!r} (the registry has {', '.join(names)})"
                    )
        for i, comp in enumerate(self.competitors):
            if comp.source not in known:
                raise ValueError(
                    f"competitors[{i}].source: unknown leaderboard {comp.source!r} "
                    f"(the registry has {', '.join(names)})"
                )
        return self

    def leaderboard(self, name: str) -> Leaderboard:
        for lb in self.target_leaderboards:
            if lb.name == name:
                return lb
        raise KeyError(name)


# --------------------------------------------------------------------------- research_config.yaml


class CitationTracking(Strict):
    """Papers that cite our core method, through the Semantic Scholar Graph API.

    The API key comes from the environment or an Airflow connection, never from this file.
    """

    papers: list[str] = Field(default_factory=list, description="our core method's paper ids (arXiv:…, DOI:…)")
    api_url: str = "https://api.semanticscholar.org/graph/v1"
    connection_id: str = "semantic_scholar"


class ResearchSources(Strict):
    arxiv_queries: list[str] = Field(default_factory=list)
    venues: list[str] = Field(default_factory=list)
    competitor_blogs: list[str] = Field(default_factory=list, description="RSS/Atom feed URLs")
    local_feeds: list[str] = Field(default_factory=list, description="feeds as paths relative to AUTOBENCH_HOME")
    citation_tracking: CitationTracking | None = None


class ArxivSettings(Strict):
    page_size: int = Field(100, ge=1, le=2000)
    max_results: int = Field(200, ge=1)
    delay_seconds: float = Field(3.0, ge=0, description="between requests; arXiv asks for 3 s")
    retries: int = Field(3, ge=0)
    timeout_seconds: float = Field(30.0, gt=0)


class LLMExtractor(Strict):
    enabled: bool = False
    connection_id: str = "autobench_llm"
    model: str | None = None


class ResearchConfig(Strict):
    """research_config.yaml: where papers come from, and how they are read."""

    research_sources: ResearchSources
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    relevance_threshold: float = Field(0.1, ge=0)
    llm_extractor: LLMExtractor = Field(default_factory=LLMExtractor)


# --------------------------------------------------------------------------- experiment_queue.yaml


#: The config key that picks the evaluation split. Only the one evaluation after a promotion sets
#: it (to ``test``); a hypothesis or production's config naming another split would let the test
#: split decide, and it never may.
EVAL_SPLIT_KEY = "eval_split"


def _no_test_split(config: dict[str, Any]) -> dict[str, Any]:
    if EVAL_SPLIT_KEY in config and config[EVAL_SPLIT_KEY] != "validation":
        raise ValueError(f"{EVAL_SPLIT_KEY}: decisions use the validation split only; the test split is evaluated "
                         f"once, after a promotion (got {config[EVAL_SPLIT_KEY]!r})")
    return config


class Implementation(Strict):
    change: str = NonEmpty
    effort: Effort
    estimated_gain: float = Field(description="in the primary metric's units, e.g. 0.027")
    config_patch: dict[str, Any] = Field(default_factory=dict, description="applied to production's config")

    @field_validator("config_patch")
    @classmethod
    def _patch_keeps_the_split(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _no_test_split(v)


class Hypothesis(Strict):
    """One hypothesis: its claim, source, change (`implementation.config_patch`) and status."""

    id: str
    title: str = NonEmpty
    claim: str = ""
    source: str = ""
    target_leaderboards: list[str] = Field(min_length=1)
    implementation: Implementation
    priority_score: float
    status: Status = "queued"
    created_at: AwareDatetime | None = None
    notes: list[str] = Field(default_factory=list, description="what happened to it, oldest first")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if v == PRODUCTION_ID:
            raise ValueError(f"{PRODUCTION_ID!r} is reserved for production's own runs")
        if not HYPOTHESIS_ID_RE.match(v):
            raise ValueError(f"must look like H-042 (letters, digits, - _ .; got {v!r})")
        return v


class NewHypothesis(Hypothesis):
    """What `queue add` accepts: the id and the priority may be left for autobench to fill in."""

    id: str | None = None  # type: ignore[assignment]
    priority_score: float | None = None  # type: ignore[assignment]

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str | None) -> str | None:  # type: ignore[override]
        return None if v is None else Hypothesis._id_shape(v)

    @field_validator("status")
    @classmethod
    def _addable(cls, v: str) -> str:
        if v in ("running", "extended", "confirming", "rolled_back"):
            raise ValueError(f"status {v!r} is set by the experiment sweep, not by hand; leave it out or use queued")
        return v


class ExperimentQueue(Strict):
    """experiment_queue.yaml: every hypothesis ever made; nothing is deleted."""

    hypotheses: list[Hypothesis] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_unique(self) -> ExperimentQueue:
        _unique([h.id for h in self.hypotheses], "hypothesis id")
        return self


# --------------------------------------------------------------------------- state/ (machine-written)


class GapRow(Strict):
    rank: int = Field(ge=1)
    system: str
    scores: dict[str, float | None] = Field(default_factory=dict)
    delta_to_ours: float | None = None
    ours: bool = False
    current_scores: dict[str, float] | None = Field(
        None, description="our row: our own measurements where they differ from the published scores")


class GapMatrix(Strict):
    """state/gap_matrix.json: the latest gap matrix (each system's scores and its gap to ours)."""

    generated_at: AwareDatetime | None = None
    run_id: str | None = None
    leaderboards: list[str] = Field(default_factory=list)
    rows: list[GapRow] = Field(default_factory=list)


class VictoryStreak(Strict):
    streak: int = Field(0, ge=0, description="consecutive cycles meeting the victory conditions")
    mode: Literal["attack", "defence"] = "attack"
    last_run_id: str | None = None
    updated_at: AwareDatetime | None = None


class VictoryState(Strict):
    """state/victory.json: victory streaks per leaderboard."""

    leaderboards: dict[str, VictoryStreak] = Field(default_factory=dict)


class UrgencyEntry(Strict):
    reason: Literal["rank_dropped", "new_entrant_within_5pct", "gap_widened", "none"]
    multiplier: float
    since: AwareDatetime
    detail: str = ""
    run_id: str | None = None

    @model_validator(mode="after")
    def _multiplier_matches(self) -> UrgencyEntry:
        expected = URGENCY_MULTIPLIERS[self.reason]
        if self.multiplier != expected:
            raise ValueError(f"multiplier for {self.reason} is {expected:g} (got {self.multiplier:g})")
        return self


class UrgencyState(Strict):
    """state/urgency.json: urgency per leaderboard, recorded by the monitor, applied by the sweep."""

    leaderboards: dict[str, UrgencyEntry] = Field(default_factory=dict)


class HttpValidator(Strict):
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    fetched_at: AwareDatetime | None = None


class HttpCacheState(Strict):
    """state/http_cache.json: validators for conditional GET, per URL."""

    urls: dict[str, HttpValidator] = Field(default_factory=dict)


class MonitorBoard(Strict):
    status: Literal["new", "unchanged", "refused"]
    reason: str = ""
    snapshot: str | None = Field(None, description="path relative to AUTOBENCH_HOME")
    rows: int | None = None


class MonitorCycle(Strict):
    run_id: str
    at: AwareDatetime
    boards: dict[str, MonitorBoard] = Field(default_factory=dict)
    alerts: list[str] = Field(default_factory=list)
    status: list[str] = Field(default_factory=list)
    triggers: list[dict[str, Any]] = Field(default_factory=list)
    finished: bool = False


class MonitorState(Strict):
    """state/monitor.json: what each monitor cycle found (the latest 120 cycles)."""

    cycles: list[MonitorCycle] = Field(default_factory=list)


class SnapshotRow(Strict):
    rank: int | None = None
    system: str
    score: float = Field(description="as written on the page")
    value: float = Field(description="on the fraction scale autobench compares with")


class Snapshot(Strict):
    """snapshots/<leaderboard>/<time>.json: one scrape of one leaderboard."""

    leaderboard: str
    url: str
    method: ScrapeMethod
    run_id: str
    taken_at: AwareDatetime
    scale: Literal["fraction", "percent"] = "fraction"
    sha256: str | None = None
    rows: list[SnapshotRow]


class SweepRunning(Strict):
    run_id: str = Field(description="the Airflow run id of the sweep that picked it")
    since: AwareDatetime
    lease: AwareDatetime | None = Field(
        None, description="wall-clock heartbeat, renewed by each step of the sweep that runs it; once older than "
                          "experiments.stale_after_minutes the next sweep recovers the hypothesis (None: an entry "
                          "written before leases, always stale to another sweep)")
    policy: str | None = None
    backend: str | None = None

    @field_validator("policy")
    @classmethod
    def _policy(cls, v: str | None) -> str | None:
        return None if v is None else _policy_name(v)

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str | None) -> str | None:
        return None if v is None else _backend_name(v)


class DefenceCheck(Strict):
    run_id: str
    at: AwareDatetime
    config_hash: str
    seed: int
    score: float | None = None
    regressed: bool = False
    alert: str | None = None
    p_value: float | None = None


class SweepState(Strict):
    """state/sweep.json: what the experiment sweep has in flight, its compute use, its defence checks."""

    running: dict[str, SweepRunning] = Field(default_factory=dict, description="hypothesis id -> the sweep running it")
    gpu_seconds: dict[str, float] = Field(default_factory=dict, description="UTC day (YYYY-MM-DD) -> run seconds used")
    defence: list[DefenceCheck] = Field(default_factory=list, description="production re-evaluations (the latest 200)")
    turns: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="the experiment_sweep DAG's run id -> where its sweep stands between turns "
                                          "(autobench.experiments.sweep.Progress, with the last turn done); the "
                                          "latest 20 sweeps")


class IngestState(Strict):
    """state/ingest.json: the ingest watermarks (one per source) and the papers already seen."""

    watermarks: dict[str, AwareDatetime] = Field(
        default_factory=dict,
        description="source name (as research_config.yaml's sources are named) -> the newest `updated` among "
                    "the papers read from it, advanced only when its fetch succeeded and never past the run's time")
    watermark: AwareDatetime | None = Field(
        None, description="before per-source watermarks: the one watermark of every source; a source without "
                          "its own starts here, and the next ingest moves it into `watermarks`")
    seen: dict[str, int] = Field(default_factory=dict, description="versionless arXiv id -> latest version seen")
    last_run_id: str | None = None


# --------------------------------------------------------------------------- the decision record


# The five promotion criteria, in the order a decision lists them (autobench.experiments.promotion).
CriterionName = Literal["improvement", "significance", "regression", "reproducibility", "projection"]
CRITERIA: tuple[str, ...] = get_args(CriterionName)


class DecisionCriterion(Strict):
    name: CriterionName
    passed: bool
    value: Any = None
    requirement: str
    detail: str = ""


class DecisionEvidence(Strict):
    metric: str
    higher_is_better: bool = True
    seeds: list[int] = Field(default_factory=list)
    control: dict[str, float] = Field(default_factory=dict, description="production's full runs, by seed")
    candidate: dict[str, float] = Field(default_factory=dict, description="the candidate's full runs, by seed")
    diffs: list[float] = Field(default_factory=list, description="paired differences, positive = better")
    fast_diff: float | None = None
    fast: dict[str, Any] = Field(default_factory=dict)
    noise: dict[str, Any] | None = None


class Decision(Strict):
    """One decision on a candidate config, recorded beside its runs (:mod:`autobench.experiments.results`):
    what ``decide`` printed."""

    hypothesis: str
    decision: Literal["promote", "reject", "extend"]
    status: Status
    criteria: list[DecisionCriterion]
    projection: dict[str, Any]
    reason: str
    policy: dict[str, Any]
    evidence: DecisionEvidence
    config_hash: str
    production_hash: str
    next_runs: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    margin: dict[str, Any] | None = Field(
        None, description="the gain against the threshold (promotion.margin_test): rule, lower bound, p-value, "
                          "confidence; absent in records made before it")
    fdr: dict[str, Any] | None = Field(
        None, description="the stream-wide test (experiments/fdr.py, LORD++): its number, level, p-value, discovery, "
                          "wealth before and after, budget, enforced; only on final decisions of configs that ran")
    confirmation: dict[str, Any] | None = Field(
        None, description="a promotion's confirmation on fresh seeds (experiments/confirmation.py): its seeds, outcome "
                          "(pending, confirmed, rolled_back, unconfirmed), paired scores, gain and 95% interval")
    decided_at: AwareDatetime
    files_written: list[str] = Field(default_factory=list)
    replayed: bool = Field(False, exclude=True, description="read back from its record, not decided now")

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as recorded (``decided_at`` as written; ``replayed`` only when true)."""
        from autobench.clock import iso

        out = {**self.model_dump(), "decided_at": iso(self.decided_at)}
        if self.replayed:
            out["replayed"] = True
        return out

    def criterion(self, name: str) -> DecisionCriterion | None:
        return next((c for c in self.criteria if c.name == name), None)


# --------------------------------------------------------------------------- the file table


class FileSpec(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str  # path relative to AUTOBENCH_HOME
    model: type[BaseModel]
    required: bool  # must exist in an initialised home
    written_by: str

    @property
    def is_yaml(self) -> bool:
        return self.name.endswith((".yaml", ".yml"))


REGISTRY = "competitive_registry.yaml"
RESEARCH_CONFIG = "research_config.yaml"
QUEUE = "experiment_queue.yaml"
GAP_MATRIX = "state/gap_matrix.json"
VICTORY = "state/victory.json"
URGENCY = "state/urgency.json"
HTTP_CACHE = "state/http_cache.json"
INGEST = "state/ingest.json"
MONITOR = "state/monitor.json"
SWEEP = "state/sweep.json"

FILES: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        FileSpec(name=REGISTRY, model=Registry, required=True, written_by="people, monitor, decide"),
        FileSpec(name=RESEARCH_CONFIG, model=ResearchConfig, required=True, written_by="people"),
        FileSpec(name=QUEUE, model=ExperimentQueue, required=True, written_by="people, ingest, sweep"),
        FileSpec(name=GAP_MATRIX, model=GapMatrix, required=False, written_by="monitor"),
        FileSpec(name=VICTORY, model=VictoryState, required=False, written_by="monitor"),
        FileSpec(name=URGENCY, model=UrgencyState, required=False, written_by="monitor"),
        FileSpec(name=HTTP_CACHE, model=HttpCacheState, required=False, written_by="monitor, ingest"),
        FileSpec(name=INGEST, model=IngestState, required=False, written_by="ingest"),
        FileSpec(name=MONITOR, model=MonitorState, required=False, written_by="monitor"),
        FileSpec(name=SWEEP, model=SweepState, required=False, written_by="sweep"),
    )
}

# --------------------------------------------------------------------------- errors


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(model: type[BaseModel], exc: ValidationError) -> list[tuple[str, str]]:
    """Turn pydantic's errors into (field, message) pairs a person can act on."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-union"))))
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = _fields_at(model, loc[:-1])
            hint = f" (allowed here: {', '.join(parent)})" if parent else ""
            msg = f"unknown key (a typo?){hint}"
        elif kind == "missing":
            msg = "required but missing"
        elif kind == "value_error":
            msg = str(err["msg"]).removeprefix("Value error, ")
            # a model-level cross-reference error names its own field path
            if not loc and ": " in msg:
                field, msg = msg.split(": ", 1)
                problems.append((field, msg))
                continue
        else:
            msg = f"{err['msg']} (got {_short(err.get('input'))})"
        problems.append((_loc(loc), msg))
    return problems


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``loc`` inside ``model`` (for 'did you mean' hints)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _inner_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


SECRET_KEY_RE = re.compile(r"(token|secret|password|passwd|api[_-]?key|apikey|credential)", re.I)
SECRET_VALUE_RE = re.compile(r"^(xox[abposr]-|xapp-|sk-[A-Za-z0-9]{16,}|ghp_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}$)")


#: Fields that hold names and text from the web (a system on a leaderboard, a paper's title):
#: a competitor called ``sk-LearnGradientBoosting`` is a name, not a leaked key, and must not
#: stop the monitor. Their values skip the credential look-alike check; their keys do not.
WEB_TEXT_KEYS = frozenset({"name", "system", "aliases", "title", "summary", "claim", "authors", "first"})


def find_secrets(data: Any, path: str = "", _key: str | None = None) -> list[tuple[str, str]]:
    """Keys or values that look like credentials: those belong in a connection or the environment."""
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and SECRET_KEY_RE.search(key) and key != "connection_id":
                found.append((sub, "secrets never go in state files: put them in an Airflow connection "
                                   "or an environment variable"))
            found.extend(find_secrets(value, sub, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(find_secrets(value, f"{path}[{i}]", _key))
    elif isinstance(data, str) and _key not in WEB_TEXT_KEYS and SECRET_VALUE_RE.match(data.strip()):
        found.append((path, "this looks like a credential: put it in an Airflow connection or an environment variable"))
    return found


def parse(spec: FileSpec, data: Any) -> BaseModel:
    """Validate plain data against a file's schema; raise :class:`StateError` on any problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StateError(spec.name, [("", f"the top level must be a mapping (got {type(data).__name__})")])
    secrets = find_secrets(data)
    if secrets:
        raise StateError(spec.name, secrets)
    try:
        return spec.model.model_validate(data)
    except ValidationError as exc:
        raise StateError(spec.name, describe(spec.model, exc)) from None
