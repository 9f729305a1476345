"""The ``kubernetes`` backend: one pod per seed (or per batch of seeds), started by Airflow
(executor ``"pod"``).

:meth:`KubernetesBackend.submit` gives each run's per-pod keyword arguments; the DAG maps
``KubernetesPodOperator`` over them, its shared arguments from :func:`static_pod_kwargs`::

    KubernetesPodOperator.partial(task_id="pod", **static_pod_kwargs(settings)).expand_kwargs(payloads)

and :meth:`KubernetesBackend.collect` reads each pod's XCom. The arguments are built from
:class:`~autobench.schemas.KubernetesSettings` with ``kubernetes.client`` models (a dependency of
the cncf provider, not Airflow); this module never imports Airflow.

Each pod runs :func:`~autobench.experiments.backends.command.shell_command_for` under ``sh -c``:
the runner writes to the PVC mounted at ``/autobench_home`` and the pod pushes a *record* to
XCom, which :func:`result_from_xcom` turns into the backend's result; ``collect`` also writes it
into the run folders (a scheduler that does not share the volume). A crashed experiment is data
(the pod exits 0 and the record carries the failure); a pod that exits non-zero left no result
(bad input, the runner killed) and Airflow's retries apply.

The container runs as uid 50000, group 0 (the image's user), non-root, with no privilege
escalation, every capability dropped, the RuntimeDefault seccomp profile and, by default, a
read-only root file system: the runner writes only under ``AUTOBENCH_HOME`` and ``/tmp`` (an
``emptyDir``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobench.experiments import results
from autobench.experiments.backends.base import (
    ExperimentBackend,
    check_request,
    group_requests,
    pairs,
    result_from_record,
    seeds_of,
    shell_command_for,
    split_result,
)
from autobench.experiments.runner import DETERMINISM_ENV

if TYPE_CHECKING:
    from kubernetes.client import models as k8s

    from autobench.schemas import KubernetesSettings

POD_HOME = "/autobench_home"
HOME_VOLUME = "autobench-home"
TMP_VOLUME = "tmp"
RUN_AS_USER = 50000
RUN_AS_GROUP = 0  # the image's user is 50000:0, with group-writable folders
NAME_MAX = 54  # KubernetesPodOperator appends "-" and 8 random characters; pod names stay <= 63
LABEL_MAX = 63
VARYING = ("name", "arguments", "labels")


class KubernetesBackend(ExperimentBackend):
    """Experiments as pods: the DAG starts them from :meth:`submit`'s payloads, :meth:`collect`
    reads what they pushed."""

    name = "kubernetes"
    executor = "pod"
    batching = "experiments.kubernetes.seeds_per_pod"

    def __init__(self, settings: KubernetesSettings):
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Any = None, **options: Any) -> KubernetesBackend:
        """``settings``: an ``ExperimentsSettings`` (its ``kubernetes`` part) or a ``KubernetesSettings``."""
        k8s_settings = getattr(settings, "kubernetes", settings)
        if k8s_settings is None:
            from autobench.schemas import KubernetesSettings

            k8s_settings = KubernetesSettings()
        return cls(k8s_settings, **options)

    def __repr__(self) -> str:
        return f"KubernetesBackend(namespace={self.settings.namespace!r}, image={self.settings.image!r})"

    def group(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return group_requests(requests, self.settings.seeds_per_pod)

    def submit(self, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each pod's own keyword arguments (``name``, ``arguments``, ``labels``: plain JSON)."""
        return [varying_pod_kwargs(r) for r in requests]

    def pod_kwargs(self, request: Mapping[str, Any], *, name: str | None = None) -> dict[str, Any]:
        return pod_kwargs(self.settings, request, name=name)

    def collect(self, requests: Sequence[Mapping[str, Any]], outputs: Sequence[Any] | None,
                home: Path) -> list[dict[str, Any]]:
        """Each pod's XCom record, seed by seed, written into the run folders where they do not
        hold it yet; ``seconds`` is the training time the run reported."""
        out = []
        for request, xcom in pairs(requests, outputs):
            for one in split_result(result_from_xcom(request, xcom)):
                results.record_seed(home, one["experiment_id"], one["config_hash"], one["mode"], one["seed"],
                                    one["metrics"], one["error"])
                seconds = float((one["metrics"] or {}).get("train_seconds") or 0.0)
                out.append({**one, "cached": False, "seconds": seconds})
        return out


# ----------------------------------------------------------------------------- names and labels


def dns_label(text: str, max_len: int = LABEL_MAX) -> str:
    """``text`` as a DNS-1123 label: lowercase letters, digits and '-', at most ``max_len``.

    When it had to be cut, the end is a short hash of the whole text, so names stay distinct.
    """
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label) or "x"
    if len(label) > max_len:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        label = label[: max_len - 9].rstrip("-") + "-" + digest
    return label


def label_value(text: str) -> str:
    """``text`` as a Kubernetes label value (letters, digits, '-', '_', '.'; alphanumeric ends)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:LABEL_MAX]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def pod_name(request: Mapping[str, Any]) -> str:
    """``autobench-h-003-s2-full`` (a batch: ``autobench-h-003-s1-2-3-full``)."""
    req = check_request(request)
    seeds = "-".join(str(s) for s in seeds_of(req))
    return dns_label(f"autobench-{req['experiment_id']}-s{seeds}-{req['mode']}", NAME_MAX)


def pod_labels(request: Mapping[str, Any]) -> dict[str, str]:
    req = check_request(request)
    seeds = seeds_of(req)
    return {"app": "autobench", "autobench/hypothesis": label_value(req["experiment_id"]),
            "autobench/seed": label_value("_".join(str(s) for s in seeds)),
            "autobench/mode": req["mode"], "autobench/config-hash": req["config_hash"]}


# ----------------------------------------------------------------------------- operator kwargs


def static_pod_kwargs(settings: KubernetesSettings, *, read_only_root: bool = True,
                      startup_timeout_seconds: int = 600) -> dict[str, Any]:
    """The keyword arguments every experiment pod shares (``KubernetesPodOperator.partial``).

    ``startup_timeout_seconds`` covers pulling the image (torch with CUDA is several GB).
    """
    from kubernetes.client import models as k8s  # here: the client costs ~0.4 s to import

    resources = k8s.V1ResourceRequirements(requests=dict(settings.requests), limits=dict(settings.limits))
    if settings.gpus > 0:
        resources.limits["nvidia.com/gpu"] = str(settings.gpus)
    volumes = [k8s.V1Volume(name=HOME_VOLUME, persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
        claim_name=settings.pvc))]
    mounts = [k8s.V1VolumeMount(name=HOME_VOLUME, mount_path=POD_HOME)]
    if read_only_root:
        volumes.append(k8s.V1Volume(name=TMP_VOLUME, empty_dir=k8s.V1EmptyDirVolumeSource()))
        mounts.append(k8s.V1VolumeMount(name=TMP_VOLUME, mount_path="/tmp"))
    env = {"AUTOBENCH_HOME": POD_HOME, **DETERMINISM_ENV, "TMPDIR": "/tmp", "XDG_CACHE_HOME": "/tmp/.cache",
           "AUTOBENCH_IMAGE": settings.image}  # the runner records it in config.yaml's environment
    kwargs: dict[str, Any] = {
        "namespace": settings.namespace,
        "image": settings.image,
        "cmds": ["sh", "-c"],
        "env_vars": [k8s.V1EnvVar(name=k, value=v) for k, v in env.items()],
        "container_resources": resources,
        "volumes": volumes,
        "volume_mounts": mounts,
        "node_selector": dict(settings.node_selector),
        "tolerations": [toleration(t) for t in settings.tolerations],
        "security_context": k8s.V1PodSecurityContext(
            run_as_user=RUN_AS_USER, run_as_group=RUN_AS_GROUP, fs_group=RUN_AS_GROUP, run_as_non_root=True,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")),
        "container_security_context": _container_security(read_only_root),
        # the XCom sidecar too: a namespace enforcing the "restricted" Pod Security Standard
        # refuses a pod if any container may escalate or keeps capabilities
        "xcom_sidecar_container_security_context": _container_security(True),
        "get_logs": True,
        "on_finish_action": "delete_succeeded_pod",
        "do_xcom_push": True,
        "startup_timeout_seconds": startup_timeout_seconds,
    }
    if settings.service_account:
        kwargs["service_account_name"] = settings.service_account
    return kwargs


def _container_security(read_only_root: bool) -> k8s.V1SecurityContext:
    from kubernetes.client import models as k8s

    return k8s.V1SecurityContext(
        run_as_user=RUN_AS_USER, run_as_group=RUN_AS_GROUP, run_as_non_root=True,
        allow_privilege_escalation=False, read_only_root_filesystem=read_only_root,
        capabilities=k8s.V1Capabilities(drop=["ALL"]))


def varying_pod_kwargs(request: Mapping[str, Any], *, name: str | None = None) -> dict[str, Any]:
    """The per-pod keyword arguments (plain JSON: fine to return from a task for expand_kwargs)."""
    return {"name": name or pod_name(request), "arguments": [shell_command_for(request)],
            "labels": pod_labels(request)}


def pod_kwargs(settings: KubernetesSettings, request: Mapping[str, Any], *, name: str | None = None,
               **static: Any) -> dict[str, Any]:
    """All keyword arguments of ``KubernetesPodOperator`` for one request (``task_id`` aside)."""
    return {**static_pod_kwargs(settings, **static), **varying_pod_kwargs(request, name=name)}


def mapped_pod_kwargs(settings: KubernetesSettings, requests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One ``{name, arguments, labels}`` per pod, requests grouped by ``settings.seeds_per_pod``."""
    backend = KubernetesBackend(settings)
    return backend.submit(backend.group(list(requests)))


def pod_requests(settings: KubernetesSettings, requests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The requests the pods of :func:`mapped_pod_kwargs` run, in the same order."""
    return KubernetesBackend(settings).group(list(requests))


_TOLERATION_KEYS = {"key": "key", "operator": "operator", "value": "value", "effect": "effect",
                    "tolerationSeconds": "toleration_seconds", "toleration_seconds": "toleration_seconds"}


def toleration(spec: Mapping[str, Any]) -> k8s.V1Toleration:
    """A ``V1Toleration`` from a settings dict (Kubernetes' camelCase or snake_case keys)."""
    unknown = set(spec) - set(_TOLERATION_KEYS)
    if unknown:
        raise ValueError(f"kubernetes.tolerations: unknown key {sorted(unknown)[0]!r} "
                         f"(allowed: key, operator, value, effect, tolerationSeconds)")
    from kubernetes.client import models as k8s

    return k8s.V1Toleration(**{_TOLERATION_KEYS[k]: v for k, v in spec.items()})


# ----------------------------------------------------------------------------- results


def result_from_xcom(request: Mapping[str, Any], xcom: Mapping[str, Any] | None) -> dict[str, Any]:
    """The backend result of a pod from its XCom (the record the shell command pushed)."""
    req = check_request(request)
    if not isinstance(xcom, Mapping):
        record: Mapping[str, Any] = {"exit_code": None, "seeds": {}}
        fallback = "the pod pushed no result"
    else:
        record, fallback = xcom, None
    return result_from_record(req, record, fallback_error=fallback)
