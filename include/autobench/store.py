"""The state store: every read and write of a file under ``AUTOBENCH_HOME``.

Reads use safe YAML loading (or JSON) and validate against the file's schema in
:mod:`autobench.schemas`; an invalid file raises :class:`~autobench.schemas.StateError` with
``file: field: what is wrong`` and nothing is applied.

Writes follow one protocol:

1. take the file's lock (``.locks/<file>.lock``, an OS-level ``flock`` via filelock, released by
   the kernel if the holder dies);
2. read the current version, apply the change, validate the result whole;
3. write a temporary file, fsync, keep the replaced version under ``history/``, rename over the
   target, fsync the folder (:func:`autobench.fsio.atomic_write`).

A crash at any instant leaves the old or the new file; concurrent writers serialise on the lock,
so no update is lost. A change that leaves the bytes as they were writes nothing, which makes
retried tasks idempotent. YAML files people edit are rewritten round-trip (ruamel.yaml), so
their comments and key order survive.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from autobench import fsio
from autobench.schemas import FILES, FileSpec, StateError, parse

LOCK_TIMEOUT_S = float(os.environ.get("AUTOBENCH_LOCK_TIMEOUT", "120"))
DEFAULT_INDENT = (2, 4, 2)  # mapping, sequence, offset: "key:\n  - item"


def _yaml(kind: str = "rt"):
    from ruamel.yaml import YAML

    y = YAML(typ=kind, pure=True)
    if kind == "rt":
        y.preserve_quotes = True
        y.width = 4096  # never re-wrap people's long lines
    return y


def _yaml_error(name: str, exc: Exception) -> StateError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
    text = f"{context}: {problem}" if context and "duplicate" in str(problem) else str(problem)
    return StateError(name, [(where, f"invalid YAML: {text}")])


def to_plain(obj: Any, where: str = "") -> Any:
    """ruamel's round-trip types to plain Python (dict, list, str, int, float, bool, date)."""
    from ruamel.yaml.comments import TaggedScalar

    if isinstance(obj, TaggedScalar):
        raise StateError(where or "?", [("", f"unsupported YAML tag {obj.tag!s}")])
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v, where) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, where) for v in obj]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, _dt.datetime):
        return _dt.datetime.fromisoformat(obj.isoformat())
    if isinstance(obj, _dt.date):
        return _dt.date(obj.year, obj.month, obj.day)
    tag = getattr(obj, "tag", None)
    raise StateError(where or "?",
                     [("", f"unsupported YAML value {type(obj).__name__}" + (f" (tag {tag})" if tag else ""))])


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False, default=_json_default) + "\n"


def guess_indent(text: str) -> tuple[int, int, int]:
    """The (mapping, sequence, offset) indentation a person used, so a rewrite keeps it.

    Looks at the first block mapping and the first block sequence nested under a ``key:`` line.
    """
    mapping = seq_offset = None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for parent, child in zip(lines, lines[1:], strict=False):
        body = parent.split(" #")[0].rstrip()
        if not body.endswith(":") or body.lstrip().startswith("- "):
            continue
        depth = len(parent) - len(parent.lstrip())
        step = (len(child) - len(child.lstrip())) - depth
        if child.lstrip().startswith("- "):
            if seq_offset is None and step >= 0:
                seq_offset = step
        elif mapping is None and step > 0:
            mapping = step
        if mapping is not None and seq_offset is not None:
            break
    mapping = mapping or DEFAULT_INDENT[0]
    offset = DEFAULT_INDENT[2] if seq_offset is None else seq_offset
    return mapping, offset + 2, offset


class StateStore:
    """One ``AUTOBENCH_HOME`` folder."""

    def __init__(self, home: str | os.PathLike[str]):
        self.home = Path(home).resolve()
        self._locks: dict[str, Any] = {}

    # ------------------------------------------------------------------ paths and locks
    def path(self, name: str) -> Path:
        return self.home / name

    def spec(self, name: str) -> FileSpec:
        try:
            return FILES[name]
        except KeyError:
            raise KeyError(f"{name} is not a state file (known: {', '.join(FILES)})") from None

    def lock(self, name: str):
        """The file's lock (re-entrant within this store)."""
        from filelock import FileLock

        lock = self._locks.get(name)
        if lock is None:
            lock_path = self.home / ".locks" / (name.replace("/", "__") + ".lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock = self._locks[name] = FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S)
        return lock

    def history_dir(self, name: str) -> Path:
        stem, _, _ = name.rpartition(".")
        return self.home / "history" / stem

    def _next_history_path(self, name: str) -> Path:
        folder = self.history_dir(name)
        ext = name.rpartition(".")[2]
        highest = 0
        if folder.is_dir():
            for entry in os.listdir(folder):
                m = re.fullmatch(r"(\d+)\." + re.escape(ext), entry)
                if m:
                    highest = max(highest, int(m.group(1)))
        return folder / f"{highest + 1:06d}.{ext}"

    # ------------------------------------------------------------------ reading
    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def read_text(self, name: str) -> str | None:
        try:
            return self.path(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError as exc:
            raise StateError(name, [("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None

    def parse_text(self, name: str, text: str) -> Any:
        """Plain data from a file's text (safe YAML or JSON)."""
        if self.spec(name).is_yaml:
            from ruamel.yaml.error import YAMLError

            try:
                return _yaml("safe").load(text)
            except YAMLError as exc:
                raise _yaml_error(name, exc) from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(name, [(f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}")]) from None

    def load(self, name: str) -> Any:
        """The file, validated. A missing optional file gives its empty default."""
        spec = self.spec(name)
        text = self.read_text(name)
        if text is None:
            if spec.required:
                raise StateError(name, [("", f"missing in {self.home} "
                                              "(create the state folder with `autobench init`)")])
            return spec.model()
        return parse(spec, self.parse_text(name, text))

    # ------------------------------------------------------------------ writing
    @contextmanager
    def edit(self, name: str) -> Iterator[Any]:
        """Read-modify-write under the file's lock.

        Yields the document to change in place: for YAML the round-trip structure (comments
        and order kept), for JSON plain data. On leaving the block the result is validated
        whole and written atomically; an exception inside the block, or an invalid result,
        writes nothing.
        """
        spec = self.spec(name)
        with self.lock(name):
            fsio.remove_stale_temps(self.path(name).parent, Path(name).name)
            old = self.read_text(name)
            if old is None and spec.required:
                raise StateError(name, [("", f"missing in {self.home} "
                                              "(create the state folder with `autobench init`)")])
            if spec.is_yaml:
                doc, indent = self._load_rt(name, old)
            else:
                doc = self.parse_text(name, old) if old is not None else spec.model().model_dump(mode="json")
                indent = None
            yield doc
            new = self._render(name, doc, indent)
            self._write_locked(name, new, old)

    def write(self, name: str, data: BaseModel | dict[str, Any]) -> bool:
        """Replace a machine-written file whole. Returns whether anything changed."""
        spec = self.spec(name)
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        with self.lock(name):
            fsio.remove_stale_temps(self.path(name).parent, Path(name).name)
            old = self.read_text(name)
            if spec.is_yaml:
                new = self._render(name, data, guess_indent(old) if old else DEFAULT_INDENT)
            else:
                new = self._render(name, data, None)
            return self._write_locked(name, new, old)

    def _load_rt(self, name: str, text: str | None) -> tuple[Any, tuple[int, int, int]]:
        from ruamel.yaml.comments import CommentedMap
        from ruamel.yaml.error import YAMLError

        if text is None or not text.strip():
            return CommentedMap(), DEFAULT_INDENT
        try:
            doc = _yaml("rt").load(text)
        except YAMLError as exc:
            raise _yaml_error(name, exc) from None
        return (doc if doc is not None else CommentedMap()), guess_indent(text)

    def _render(self, name: str, doc: Any, indent: tuple[int, int, int] | None) -> str:
        spec = self.spec(name)
        plain = to_plain(doc, name)
        model = parse(spec, plain)  # validate the whole result before anything is written
        if not spec.is_yaml:
            return dump_json(model.model_dump(mode="json", exclude_none=False))
        y = _yaml("rt")
        mapping, seq, offset = indent or DEFAULT_INDENT
        y.indent(mapping=mapping, sequence=seq, offset=offset)
        buf = io.StringIO()
        y.dump(doc, buf)
        return buf.getvalue()

    def _write_locked(self, name: str, new: str, old: str | None) -> bool:
        if new == old:
            return False
        keep = self._next_history_path(name) if old is not None else None
        fsio.atomic_write(self.path(name), new, keep_old_as=keep)
        return True
