"""The pod operator ``experiment_sweep`` maps when the registry's backend runs pods, imported only then.

Every task of a DAG parses its file when it starts. The cncf provider's operator module and the pod
builder (``autobench.experiments.backends.kubernetes``) import the Kubernetes clients (about 0.75 s
on this project's 2-core VM), so a sweep whose backend runs in tasks (``local``) must not pay that
on each of its task instances: the DAG file calls :func:`pod_operator` only when it wires pods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autobench.schemas import KubernetesSettings


def pod_operator(task_id: str, settings: KubernetesSettings, pool: str) -> Any:
    """``KubernetesPodOperator.partial`` with the arguments every pod of the sweep shares
    (``static_pod_kwargs``); the DAG maps it over each turn's pod kwargs."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    from autobench.experiments.backends.kubernetes import static_pod_kwargs

    return KubernetesPodOperator.partial(task_id=task_id, pool=pool, **static_pod_kwargs(settings))
