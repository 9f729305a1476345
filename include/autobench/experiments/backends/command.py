"""The command a run request becomes: ``autobench run`` with the spec as text.

:func:`command_for` is the argv (the spec on stdin, ``--config -``), what the local backend
starts; :func:`shell_command_for` is one ``sh -c`` line for a container, which also pushes each
seed's record to XCom, what a Kubernetes pod runs.

The spec travels as text that ``autobench run --config`` reads with ``yaml.safe_load``. JSON is
not safe for that: PyYAML reads ``1e-05`` as the *string* ``"1e-05"`` (YAML 1.1 floats need a
dot) and ``\\ud83d\\ude00`` as two lone surrogates, which would change the config and its hash.
:func:`spec_text` writes a YAML flow document that PyYAML reads back exactly, with no ``{`` left
inside strings, so Jinja (Airflow renders ``KubernetesPodOperator.arguments``) leaves it alone.

Standard library and the lean runner only: importable in the experiment image.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from typing import Any

from autobench.experiments.backends.run_request import (
    check_request,
    is_batch,
    relative_folder,
    seeds_of,
)
from autobench.experiments.results import FAILURE, METRICS

XCOM_DIR_ENV = "AUTOBENCH_XCOM_DIR"
DEFAULT_XCOM_DIR = "/airflow/xcom"  # KubernetesPodOperator's XCom sidecar reads return.json here


def command_for(request: Mapping[str, Any]) -> list[str]:
    """The argv that runs the request, with :func:`spec_text` on stdin (``--config -``)."""
    req = check_request(request)
    argv = ["autobench", "run", req["experiment_id"]]
    if is_batch(req):
        # one process for the batch: vectorised over seeds when the solution has a batched
        # variant (the same per-seed results), one by one otherwise
        argv += ["--seeds", ",".join(str(s) for s in req["seeds"]), "--batched"]
    else:
        argv += ["--seed", str(req["seed"])]
    if req["mode"] == "fast":
        argv.append("--fast")
    return argv + ["--config", "-", "--json"]


def shell_command_for(request: Mapping[str, Any]) -> str:
    """One ``sh -c`` line for a container (no stdin there).

    It writes the spec to a temporary file, runs ``autobench run … --config FILE --json`` with
    ``AUTOBENCH_HOME`` from the environment, then writes a JSON *record* of the run (``run``:
    its experiment id, mode, config hash and seeds) and of each seed's
    ``metrics.json`` and ``failure.json`` (see :func:`result_from_record`) to
    ``$AUTOBENCH_XCOM_DIR/return.json`` (default ``/airflow/xcom``) when that folder exists.
    It exits 0 when every seed ended with metrics or a recorded failure (a crash is data), and
    non-zero otherwise (bad input, the runner itself killed: infrastructure, worth a retry).
    Each seed's stale ``failure.json`` is removed first, so the record is this run's.
    """
    req = check_request(request)
    argv = command_for(req)
    stdin_at = argv.index("--config") + 1  # `--config -` becomes `--config "$spec"`
    run_line = " ".join('"$spec"' if i == stdin_at else shlex.quote(a) for i, a in enumerate(argv))
    q = shlex.quote
    run = json.dumps({k: req[k] for k in ("experiment_id", "mode", "config_hash")} | {"seeds": seeds_of(req)})
    pairs = " ".join(q(f"{s}:{relative_folder(req, s)}") for s in seeds_of(req))  # seed:its run folder
    lines = [
        "set -u",
        'home="${AUTOBENCH_HOME:-autobench_home}"',
        f'xcom="${{{XCOM_DIR_ENV}:-{DEFAULT_XCOM_DIR}}}"',
        'spec="$(mktemp "${TMPDIR:-/tmp}/autobench-spec.XXXXXX")" || exit 70',
        'doc="$(mktemp "${TMPDIR:-/tmp}/autobench-result.XXXXXX")" || exit 70',
        "trap 'rm -f \"$spec\" \"$doc\"' EXIT",
        f"printf '%s\\n' {q(spec_text(req['spec']))} > \"$spec\" || exit 70",
        f'for pair in {pairs}; do rm -f "$home/${{pair#*:}}/{FAILURE}"; done',
        f"{run_line}; rc=$?",
        "ok=1",
        "{",
        f"  printf '{{\"run\": %s, \"exit_code\": %d, \"seeds\": {{' {q(run)} \"$rc\"; sep=\"\"",
        f"  for pair in {pairs}; do",
        '    s="${pair%%:*}"; d="$home/${pair#*:}"; printf \'%s"%s": {"metrics": \' "$sep" "$s"; sep=", "',
        f'    if [ -s "$d/{METRICS}" ]; then cat "$d/{METRICS}"; else printf null; fi',
        "    printf ', \"failure\": '",
        f'    if [ -s "$d/{FAILURE}" ]; then cat "$d/{FAILURE}"; else printf null; fi',
        "    printf '}'",
        f'    [ -s "$d/{METRICS}" ] || [ -s "$d/{FAILURE}" ] || ok=0',
        "  done",
        "  printf '}}\\n'",
        '} > "$doc"',
        'if [ -d "$xcom" ]; then cp "$doc" "$xcom/return.json" || exit 70; fi',
        'if [ "$ok" = 1 ]; then exit 0; fi',
        'echo "autobench: the run left no result (exit status $rc)" >&2',
        'if [ "$rc" = 0 ]; then exit 1; fi',
        'exit "$rc"',
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the spec as text


def spec_text(spec: Mapping[str, Any]) -> str:
    """The spec as one line of YAML that ``yaml.safe_load`` reads back exactly.

    JSON-like flow style; floats always carry a dot (``1.0e-05``), non-finite floats are
    ``.inf``/``.nan``, strings are double-quoted with ``{``, backslash, quotes and every
    non-printable character escaped, so the text holds no ``{{``, ``{%`` or ``{#`` for Jinja.
    """
    return _flow(spec)


def _flow(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    raise TypeError(f"cannot put a {type(value).__name__} in a run spec (plain data only)")


def _float(x: float) -> str:
    if math.isnan(x):
        return ".nan"
    if math.isinf(x):
        return ".inf" if x > 0 else "-.inf"
    text = repr(x)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + (e + exponent if e else "")


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "{":
            out.append("\\x7b")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
