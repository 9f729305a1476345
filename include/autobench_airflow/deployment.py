"""Names the distributed deployment (config/distributed.env, docs/scale-out.md) reads at run time.

Light on purpose: Airflow calls :func:`hostname` in every component and task process
(``[core] hostname_callable``), so this module imports only the standard library.
"""

from __future__ import annotations

import os
import socket

WORKER_HOSTNAME_ENV = "AUTOBENCH_WORKER_HOSTNAME"
GPU_QUEUE_ENV = "AUTOBENCH_GPU_QUEUE"
DEFAULT_GPU_QUEUE = "gpu"


def hostname() -> str:
    """The host name Airflow records for a task instance and a job: ``$AUTOBENCH_WORKER_HOSTNAME``
    when set (several workers on one machine, each told apart), else the machine's FQDN as
    Airflow's default (``airflow.utils.net.getfqdn``) gives it."""
    name = os.environ.get(WORKER_HOSTNAME_ENV, "").strip()
    if name:
        return name
    try:
        from airflow.utils.net import getfqdn
    except ImportError:  # a task-sdk-only worker
        return socket.getfqdn()
    return getfqdn()


def gpu_queue() -> str:
    """The Celery queue that only GPU workers consume (``airflow celery worker --queues gpu``)."""
    return os.environ.get(GPU_QUEUE_ENV, "").strip() or DEFAULT_GPU_QUEUE
