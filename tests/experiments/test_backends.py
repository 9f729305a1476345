"""Experiment backends: the request's commands, the local subprocess, the Kubernetes pod.

The pod is built by the real KubernetesPodOperator without a cluster, validated against the
Kubernetes schema, and its container command is then run here with ``sh -c`` against a temporary
AUTOBENCH_HOME, so what a pod would run is what these tests run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from autobench.experiments import backends
from autobench.experiments.backends.base import (
    BackendError,
    check_request,
    command_for,
    group_requests,
    result_from_record,
    shell_command_for,
    spec_text,
    split_result,
)
from autobench.experiments.backends.kubernetes import (
    KubernetesBackend,
    mapped_pod_kwargs,
    pod_kwargs,
    pod_requests,
    result_from_xcom,
    static_pod_kwargs,
)
from autobench.experiments.backends.local import LocalBackend
from autobench.experiments.runner import RunSpec
from autobench.schemas import ExperimentsSettings, KubernetesSettings

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TRICKY = {"name": "it's a \"quoted\" name with  spaces", "unicode": "précis — 精度 😀", "lr": 1e-05,
          "big": 1e20, "jinja": "{{ ds }} {% if x %} {# c #}", "shell": "$(rm -rf /) `id` ; | & \\n",
          "nested": {"list": [1, 2.5, None, True], "控制": "\x01\x7f\u2028"}}

# A tiny solution of our own (no torch in the solution; the runner's child imports it anyway).
SOLUTIONS = textwrap.dedent('''
    import time

    def ok(config, seed, subset):
        return {"accuracy": 0.5 + seed / 100, "subset": subset, "echo": config.get("name", "")}

    def crash_on_even(config, seed, subset):
        if seed % 2 == 0:
            raise RuntimeError("shape mismatch in layer 3")
        return ok(config, seed, subset)

    def slow(config, seed, subset):
        time.sleep(60)
        return ok(config, seed, subset)
''')


def request(solution: str = "bk_solutions:ok", seed: int | None = 2, seeds: list[int] | None = None,
            mode: str = "full", experiment_id: str = "H-003", config: dict | None = None) -> dict:
    spec = RunSpec(experiment_id, solution, dict(TRICKY if config is None else config), 0.25, "accuracy")
    req = {"experiment_id": experiment_id, "mode": mode, "spec": spec.as_dict(), "config_hash": spec.config_hash}
    req.update({"seeds": seeds} if seeds else {"seed": seed})
    return req


# What the runner's child calls on torch, and nothing more: importing the real torch takes
# seconds per attempt, and these tests are about the backends' plumbing. The pod test below and
# tests/experiments/test_runner.py run the real torch.
FAKE_TORCH = textwrap.dedent('''
    from types import SimpleNamespace

    __version__ = "0.0-fake"
    cuda = SimpleNamespace(is_available=lambda: False, manual_seed_all=lambda seed: None)
    backends = SimpleNamespace(cudnn=SimpleNamespace(benchmark=False, deterministic=True))

    def manual_seed(seed):
        return None

    def use_deterministic_algorithms(flag):
        return None

    def get_num_threads():
        return 1
''')


def make_env(tmp_path: Path, *, fake_torch: bool) -> dict[str, str]:
    """PYTHONPATH with the solutions, PATH with this venv's autobench, a private TMPDIR."""
    solutions = tmp_path / "solutions"
    solutions.mkdir(exist_ok=True)
    (solutions / "bk_solutions.py").write_text(SOLUTIONS)
    path = [str(solutions), str(REPO / "include")]
    if fake_torch:
        (tmp_path / "fake" / "torch").mkdir(parents=True, exist_ok=True)
        (tmp_path / "fake" / "torch" / "__init__.py").write_text(FAKE_TORCH)
        path.insert(0, str(tmp_path / "fake"))
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {"PYTHONPATH": os.pathsep.join(path), "TMPDIR": str(tmp),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return make_env(tmp_path, fake_torch=True)


def sh(script: str, env: dict[str, str], home: Path, xcom: Path) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "AUTOBENCH_HOME": str(home), "AUTOBENCH_XCOM_DIR": str(xcom)}
    return subprocess.run(["sh", "-c", script], env=full, capture_output=True, text=True, timeout=120)


# ----------------------------------------------------------------------------- commands


def test_command_for_one_seed_and_a_batch():
    assert command_for(request(seed=2, mode="fast")) == [
        "autobench", "run", "H-003", "--seed", "2", "--fast", "--config", "-", "--json"]
    assert command_for(request(seeds=[1, 2, 3])) == [
        "autobench", "run", "H-003", "--seeds", "1,2,3", "--batched", "--config", "-", "--json"]


def test_the_spec_text_reads_back_exactly_through_yaml_and_jinja_leaves_it_alone():
    spec = request()["spec"]
    text = spec_text(spec)
    assert yaml.safe_load(text) == spec  # JSON would turn 1e-05 into the string "1e-05"
    assert isinstance(yaml.safe_load(text)["config"]["lr"], float)
    for opener in ("{{", "{%", "{#"):
        assert opener not in text
        assert opener not in shell_command_for(request())
    with pytest.raises(TypeError):
        spec_text({"config": {"x": object()}})


def test_bad_requests_are_refused_with_the_field():
    good = request()
    with pytest.raises(ValueError, match="config_hash"):
        check_request({**good, "config_hash": "0" * 12})
    with pytest.raises(ValueError, match="experiment_id"):
        check_request({**good, "experiment_id": "x; rm -rf /"})
    with pytest.raises(ValueError, match="exactly one"):
        check_request({**good, "seeds": [1, 2]})
    with pytest.raises(ValueError, match="mode"):
        check_request({**good, "mode": "medium"})


def test_the_shell_command_runs_under_sh_and_writes_the_run_folder_and_the_xcom(tmp_path, env, home):
    req = request(seed=2, mode="fast")
    script = shell_command_for(req)
    assert "$(rm -rf /)" in script and shlex.split(script)  # the config is in there, quoted
    xcom = tmp_path / "xcom"
    xcom.mkdir()
    proc = sh(script, env, home, xcom)
    assert proc.returncode == 0, proc.stderr
    folder = home / "experiments/results/H-003" / req["config_hash"] / "fast/seed_2"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics == {"accuracy": 0.52, "subset": 0.25, "echo": TRICKY["name"]}
    assert yaml.safe_load((folder / "config.yaml").read_text())["config"] == TRICKY
    record = json.loads((xcom / "return.json").read_text())
    assert record == {"run": {"experiment_id": "H-003", "mode": "fast", "config_hash": req["config_hash"],
                              "seeds": [2]},
                      "exit_code": 0, "seeds": {"2": {"metrics": metrics, "failure": None}}}
    result = result_from_xcom(req, record)
    assert result["metrics"] == metrics and result["error"] is None
    assert result["folder"] == f"experiments/results/H-003/{req['config_hash']}/fast/seed_2"
    assert not list(Path(env["TMPDIR"]).glob("autobench-*"))  # its temporary files are gone

    # no xcom folder (a plain container): the run still works and nothing else is written
    again = sh(script, env, home, tmp_path / "absent")
    assert again.returncode == 0 and not (tmp_path / "absent").exists()


def test_the_shell_command_reports_a_crash_as_data_and_fails_when_nothing_ran(tmp_path, env, home):
    req = request("bk_solutions:crash_on_even", seeds=[1, 2])
    xcom = tmp_path / "xcom"
    xcom.mkdir()
    proc = sh(shell_command_for(req), env, home, xcom)
    assert proc.returncode == 0, proc.stderr  # the runner recorded the failure: data, not a retry
    result = result_from_xcom(req, json.loads((xcom / "return.json").read_text()))
    assert result["results"]["1"]["metrics"]["accuracy"] == 0.51
    assert result["results"]["2"]["metrics"] is None
    assert result["results"]["2"]["error"] == "failed 2 times: RuntimeError: shape mismatch in layer 3"
    assert result["error"].startswith("1 of 2 seeds failed; seed 2")

    # a spec the runner refuses before running anything: no result, so the pod fails (a retry)
    bad = request()
    bad["spec"]["fast_subset"] = 5
    (xcom / "return.json").unlink()
    broken = sh(shell_command_for(bad), env, home, xcom)
    assert broken.returncode == 1 and "fast_subset" in broken.stderr and "left no result" in broken.stderr
    record = json.loads((xcom / "return.json").read_text())
    assert result_from_xcom(bad, record)["error"] == "the run left no result (exit status 1)"


# ----------------------------------------------------------------------------- local


def test_local_backend_returns_metrics_then_a_crash_as_error(tmp_path, env, home):
    backend = backends.get("local", ExperimentsSettings(), env=env, stream=None)
    assert isinstance(backend, LocalBackend)
    ok = backend.run(request(seed=1), home)
    assert ok["error"] is None and ok["metrics"]["accuracy"] == 0.51 and ok["seed"] == 1
    assert (home / ok["folder"] / "metrics.json").is_file()

    crashed = backend.run(request("bk_solutions:crash_on_even", seed=2), home)
    assert crashed["metrics"] is None
    assert crashed["error"] == "failed 2 times: RuntimeError: shape mismatch in layer 3"
    assert "attempt 2/2" in (home / crashed["folder"] / "train.log").read_text()
    assert any("FAILED" in line for line in backend.last_output)


def test_local_backend_timeout_and_missing_executable(tmp_path, env, home, monkeypatch):
    slow = LocalBackend(timeout=1.5, env=env, stream=None).run(request("bk_solutions:slow"), home)
    assert slow["metrics"] is None and slow["error"].startswith("timed out after 1.5 s")

    monkeypatch.setattr("autobench.experiments.backends.local.autobench_argv", lambda: [str(tmp_path / "no-autobench")])
    with pytest.raises(BackendError, match="cannot start"):
        LocalBackend(stream=None).run(request(), home)


# ----------------------------------------------------------------------------- kubernetes


SETTINGS = KubernetesSettings(
    namespace="research", image="registry.example/autobench-experiment:0.1.0", pvc="autobench-home",
    gpus=2, node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
    tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                 {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute",
                  "tolerationSeconds": 60}],
    service_account="autobench-runner")


def _pod(kwargs: dict) -> dict:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import ApiClient

    experiment = KubernetesPodOperator(task_id="experiment", **kwargs)
    experiment.render_template_fields({})  # as a worker does; the spec must come through Jinja unchanged
    return ApiClient().sanitize_for_serialization(experiment.build_pod_request_obj(dry_run=True))


def test_the_kubernetes_pod_is_valid_and_its_command_runs_here(tmp_path, home):
    import kubernetes_validate

    env = make_env(tmp_path, fake_torch=False)  # the real torch, as in the image

    req = request(seed=2, experiment_id="H-003")
    kwargs = pod_kwargs(SETTINGS, req)
    pod = _pod(kwargs)
    assert kubernetes_validate.validate(pod, "1.30", strict=True) == "1.30"

    meta, spec = pod["metadata"], pod["spec"]
    assert meta["namespace"] == "research"
    assert DNS_1123_LABEL.match(meta["name"]) and len(meta["name"]) <= 63
    assert meta["name"].startswith("autobench-h-003-s2-full-")
    assert {"app": "autobench", "autobench/hypothesis": "H-003", "autobench/seed": "2",
            "autobench/mode": "full", "autobench/config-hash": req["config_hash"]}.items() <= meta["labels"].items()
    base = next(c for c in spec["containers"] if c["name"] == "base")
    assert base["image"] == SETTINGS.image
    assert base["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert base["resources"]["requests"] == {"cpu": "2", "memory": "8Gi"}
    mounts = {m["mountPath"]: m["name"] for m in base["volumeMounts"]}
    assert mounts["/autobench_home"] == "autobench-home" and "/tmp" in mounts and "/airflow/xcom" in mounts
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["autobench-home"]["persistentVolumeClaim"] == {"claimName": "autobench-home"}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert spec["nodeSelector"] == SETTINGS.node_selector
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute", "tolerationSeconds": 60}]
    assert spec["serviceAccountName"] == "autobench-runner"
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 50000
    for container in spec["containers"]:  # the XCom sidecar too ("restricted" Pod Security)
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["runAsNonRoot"] is True and ctx["readOnlyRootFilesystem"] is True
    env_vars = {e["name"]: e["value"] for e in base["env"]}
    assert env_vars["AUTOBENCH_HOME"] == "/autobench_home"
    assert env_vars["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8" and env_vars["PYTHONHASHSEED"] == "0"
    assert env_vars["AUTOBENCH_IMAGE"] == SETTINGS.image
    assert base["command"] == ["sh", "-c"] and base["args"] == [shell_command_for(req)]
    assert kwargs["on_finish_action"] == "delete_succeeded_pod" and kwargs["do_xcom_push"] is True
    assert kwargs["get_logs"] is True and kwargs["startup_timeout_seconds"] > 0

    # the pod's own command, here: /autobench_home and /tmp become temporary folders via the env
    xcom = tmp_path / "xcom"
    xcom.mkdir()
    proc = subprocess.run(base["command"] + base["args"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env_vars, **env, "AUTOBENCH_HOME": str(home),
                               "AUTOBENCH_XCOM_DIR": str(xcom)})
    assert proc.returncode == 0, proc.stderr
    result = result_from_xcom(req, json.loads((xcom / "return.json").read_text()))
    assert result["error"] is None and result["metrics"]["accuracy"] == 0.52
    assert json.loads((home / result["folder"] / "metrics.json").read_text()) == result["metrics"]


def test_cpu_only_pods_and_a_writable_root():
    settings = SETTINGS.model_copy(update={"gpus": 0, "service_account": None})
    kwargs = static_pod_kwargs(settings, read_only_root=False)
    assert "nvidia.com/gpu" not in kwargs["container_resources"].limits
    assert "service_account_name" not in kwargs
    assert [v.name for v in kwargs["volumes"]] == ["autobench-home"]
    assert kwargs["container_security_context"].read_only_root_filesystem is False


def test_seeds_per_pod_groups_requests():
    singles = [request(seed=s) for s in (1, 2, 3, 4, 5)] + [request(seed=1, mode="fast")]
    other = request(seed=1, experiment_id="H-004")
    by_pod = pod_requests(SETTINGS.model_copy(update={"seeds_per_pod": 2}), [*singles, other])
    assert [(r["experiment_id"], r["mode"], r.get("seeds", r.get("seed"))) for r in by_pod] == [
        ("H-003", "full", [1, 2]), ("H-003", "full", [3, 4]), ("H-003", "full", 5),
        ("H-003", "fast", 1), ("H-004", "full", 1)]
    # a batch given in is split and regrouped; duplicates run once
    assert [r["seed"] for r in group_requests([request(seeds=[3, 1]), request(seed=3)], 1)] == [3, 1]

    varying = mapped_pod_kwargs(SETTINGS.model_copy(update={"seeds_per_pod": 3}), singles[:5])
    assert [set(v) for v in varying] == [{"name", "arguments", "labels"}] * 2
    assert [v["name"] for v in varying] == ["autobench-h-003-s1-2-3-full", "autobench-h-003-s4-5-full"]
    assert "--seeds 1,2,3" in varying[0]["arguments"][0]
    assert json.loads(json.dumps(varying)) == varying  # plain JSON: a task may return it for expand_kwargs
    assert set(static_pod_kwargs(SETTINGS)).isdisjoint(varying[0])


def test_long_ids_give_short_distinct_dns_names():
    a = pod_kwargs(SETTINGS, request(experiment_id="H." + "x" * 60))["name"]
    b = pod_kwargs(SETTINGS, request(experiment_id="H." + "x" * 59 + "y"))["name"]
    assert a != b and all(DNS_1123_LABEL.match(n) and len(n) <= 54 for n in (a, b))


def test_the_kubernetes_backend_submits_pods_and_collects_their_xcom(home):
    backend = backends.get("kubernetes",
                           ExperimentsSettings(kubernetes=SETTINGS.model_copy(update={"seeds_per_pod": 2})))
    assert isinstance(backend, KubernetesBackend) and backend.executor == "pod"
    runs = backend.group([request(seed=s) for s in (1, 2, 3)])
    assert [r.get("seeds", r.get("seed")) for r in runs] == [[1, 2], 3]
    payloads = backend.submit(runs)
    assert payloads == mapped_pod_kwargs(backend.settings, [request(seed=s) for s in (1, 2, 3)])
    assert [set(p) for p in payloads] == [{"name", "arguments", "labels"}] * 2
    with pytest.raises(BackendError, match="pods the experiment_sweep DAG starts"):
        backend.run(payloads[0], home)  # a pod is not run here
    record = {"exit_code": 0, "seeds": {"1": {"metrics": {"accuracy": 0.51, "train_seconds": 3.0}, "failure": None},
                                        "2": {"metrics": None, "failure": {"attempts": ["OOM", "OOM"]}}}}
    done = backend.collect(runs, [record], home)  # the second pod pushed nothing
    # a record that names its run (the shell command's do) is matched by it, not by its position
    named = {**record, "run": {k: runs[0][k] for k in ("experiment_id", "mode", "config_hash")} | {"seeds": [1, 2]}}
    assert backend.collect(runs[::-1], [named], home)[0]["error"] == "the pod pushed no result"  # seed 3's
    assert [(d["seed"], d["error"], d["seconds"]) for d in done] == [
        (1, None, 3.0), (2, "failed 2 times: OOM", 0.0), (3, "the pod pushed no result", 0.0)]
    for d in done:  # each seed's outcome is beside the runs, where decide reads it
        folder = home / d["folder"]
        assert (folder / ("metrics.json" if d["error"] is None else "failure.json")).is_file()
    with pytest.raises(ValueError, match="unknown experiment backend 'slurm'"):
        backends.get("slurm")
    assert backends.names() == ("local", "kubernetes")


def test_the_local_backend_groups_by_seeds_per_task_and_runs_its_payloads(tmp_path, env, home):
    backend = backends.get("local", ExperimentsSettings(local={"seeds_per_task": 2}), env=env, stream=None)
    assert backend.executor == "task" and backend.seeds_per_task == 2
    runs = backend.group([request(seed=s) for s in (1, 2, 3)])
    payloads = backend.submit(runs)
    assert payloads == runs and [r.get("seeds", r.get("seed")) for r in runs] == [[1, 2], 3]
    lines: list[str] = []
    outputs = [backend.run(p, home, progress=lines.append) for p in payloads]
    assert any("seed=3" in line for line in lines)  # the runner's progress lines, as they came
    done = backend.collect(runs, outputs, home)
    assert [(d["seed"], d["metrics"]["accuracy"], d["cached"]) for d in done] == [(1, 0.51, False), (2, 0.52, False),
                                                                               (3, 0.53, False)]
    assert all(d["seconds"] > 0 for d in done)
    again = backend.collect(runs, [backend.run(p, home) for p in payloads], home)
    assert [(d["cached"], d["seconds"]) for d in again] == [(True, 0.0)] * 3  # the cache: nothing trained
    # a task that returned nothing (it failed): its seeds are read from their folders, and the
    # other task's result still belongs to its own run (Airflow leaves a failed task's output out)
    partial = backend.collect(runs, [outputs[1]], home)
    assert [(d["seed"], d["metrics"]["accuracy"], d["seconds"] > 0) for d in partial] == [
        (1, 0.51, False), (2, 0.52, False), (3, 0.53, True)]


def test_results_split_and_a_pod_without_xcom():
    req = request(seeds=[1, 2])
    record = {"exit_code": 0, "seeds": {"1": {"metrics": {"accuracy": 0.5}, "failure": None},
                                        "2": {"metrics": {"accuracy": 0.6}, "failure": None}}}
    result = result_from_record(req, record)
    assert result["error"] is None and [r["seed"] for r in split_result(result)] == [1, 2]
    assert split_result(result_from_record(request(seed=1), record))[0]["metrics"] == {"accuracy": 0.5}
    assert result_from_xcom(request(seed=1), None)["error"] == "the pod pushed no result"


def test_the_package_imports_no_airflow_and_no_kubernetes_client():
    code = ("import sys, autobench.experiments.backends, autobench.experiments.backends.local; "
            "import autobench.experiments.results; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('airflow', 'kubernetes', 'pydantic')]; "
            "assert not bad, bad; import autobench.experiments.backends.kubernetes; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'airflow']")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(REPO / "include")})
