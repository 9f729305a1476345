# The Airflow image for autobench: the official Airflow image, extended the documented way
# (https://airflow.apache.org/docs/docker-stack/build.html, "Adding packages from
# requirements.txt"), plus the autobench package. docker-compose.yaml builds it (`build: .`) for
# every Airflow service.
#
#   docker compose build            # or, with Debian's v1 client: docker-compose build
#
# Build arguments:
#   TORCH_INDEX_URL  empty (default): torch comes from PyPI like every other requirement (on
#                    x86_64 Linux that is the CUDA build, several GB). Pass the PyTorch CPU index
#                    for a much smaller image when experiments run elsewhere (the experiment
#                    image, Dockerfile.experiment, or a Kubernetes pod):
#                      docker compose build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
#
# The tag must match the apache-airflow pin in requirements.txt (tests/test_compose.py checks it):
# installing requirements.txt must never change the Airflow that the image was built with.
FROM apache/airflow:3.3.2-python3.11

ARG TORCH_INDEX_URL=""

# The state folder (AUTOBENCH_HOME). docker-compose mounts the named volume `autobench-home`
# here; Docker seeds an empty named volume with the ownership of the image's directory, so it is
# created here owned by airflow (uid 50000) and group 0, group-writable, like /opt/airflow.
# Creating it needs root; the rest of the build runs as the airflow user again.
USER root
RUN mkdir -p /opt/autobench/home \
    && chown -R airflow:0 /opt/autobench \
    && chmod -R g+rwX /opt/autobench
USER airflow

# Python dependencies. pip in this image runs as the airflow user (it refuses to run as root) and
# installs into the image's own Python environment under /home/airflow/.local. As the official
# docs advise, "apache-airflow==${AIRFLOW_VERSION}" (AIRFLOW_VERSION is set by the base image) is
# named on every pip command so that pip can never upgrade or downgrade Airflow while resolving
# our requirements; requirements.txt pins the same version, so a mismatched FROM tag fails here.
COPY --chown=airflow:0 requirements.txt /tmp/autobench-build/requirements.txt

# Optional: torch from another index first (e.g. the CPU wheels). The `torch==X` pin is read from
# requirements.txt, and the next step's `torch==X` is then already satisfied by `X+cpu`. The
# Airflow pin is already installed, so pip never looks it up on that index.
RUN if [ -n "${TORCH_INDEX_URL}" ]; then \
        pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" \
            "apache-airflow==${AIRFLOW_VERSION}" \
            "$(grep -E '^torch==' /tmp/autobench-build/requirements.txt)" ; \
    fi

RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /tmp/autobench-build/requirements.txt

# The autobench package itself (pyproject maps include/ as the package root; README.md is the
# project's readme, which the build needs). Copied owned by airflow because pip builds the wheel
# inside the source tree. Installed NON-editable, so the image works without the source; the
# source is removed afterwards. docker-compose additionally mounts ./include and puts it first on
# PYTHONPATH, so local edits apply without a rebuild during development.
COPY --chown=airflow:0 pyproject.toml README.md /tmp/autobench-build/
COPY --chown=airflow:0 include/ /tmp/autobench-build/include/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /tmp/autobench-build \
    && rm -rf /tmp/autobench-build \
    && autobench --version

# Where the package and its CLI find their state, and cuBLAS's deterministic workspace setting for
# any torch run in this image (the local experiment backend). docker-compose sets AUTOBENCH_HOME
# too; these are the defaults for `docker run`.
ENV AUTOBENCH_HOME=/opt/autobench/home \
    CUBLAS_WORKSPACE_CONFIG=:4096:8

# The base image's entrypoint (/entrypoint via dumb-init) and default user (airflow, uid 50000,
# group 0) are kept unchanged.
