"""The technique catalog: what research ingestion looks for in a paper, and what it would change.

:class:`Technique` entries live in ``autobench/research/catalog/techniques.yaml`` (package data),
which a ``techniques.yaml`` in the state folder extends or overrides by name (``enabled: false``
removes a shipped entry). Each entry carries case-insensitive regular expressions searched in
title + abstract, an implementation effort, and a ``config_patch`` in the reference solution's
knobs (:data:`RECALL_KNOBS`). An empty patch means "cannot be applied without a redesign": the
technique is reported (``applies`` is False) but never becomes an automatic run.
:func:`load_catalog` validates both files with pydantic and names the file, the entry and the
field of any problem.

Standard library only at import time (the loader imports pydantic, yaml and the schemas when
called).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from autobench.errors import StateError

CATEGORIES: tuple[str, ...] = ("architecture", "training", "data", "inference")
EFFORTS: tuple[str, ...] = ("Low", "Medium", "High")
CATALOG_FILE = "techniques.yaml"  # in the package's catalog/ folder and in the state folder


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _number(lo: float, hi: float | None = None, *, open_lo: bool = False) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        if v < lo or (open_lo and v == lo):
            return False
        return hi is None or v < hi
    return check


# The knobs of autobench.workloads.recall a technique may patch, with what each accepts (kept in
# step with recall.DEFAULTS and recall.resolve; tests/research/test_techniques.py checks the names).
# n_queries, vocab, val_size, eval_split, device and log_every define the task or the run, not
# the solution, so no technique touches them.
RECALL_KNOBS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "lr": (_number(0.0, open_lo=True), "a number > 0"),
    "schedule": (lambda v: v in ("constant", "cosine"), "constant or cosine"),
    "warmup": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    "width": (_positive_int, "an integer > 0"),
    "depth": (_positive_int, "an integer > 0"),
    "heads": (_positive_int, "an integer > 0"),
    "positional_encoding": (lambda v: v in ("none", "learned", "sinusoidal", "rotary"),
                            "none, learned, sinusoidal or rotary"),
    "dropout": (_number(0.0, 1.0), "a number in [0, 1)"),
    "weight_decay": (_number(0.0), "a number >= 0"),
    "steps": (_positive_int, "an integer > 0"),
    "batch_size": (_positive_int, "an integer > 0"),
    "n_pairs": (_positive_int, "an integer > 0"),
    "min_pairs": (lambda v: v is None or _positive_int(v), "an integer > 0 or null"),
}


def patch_problems(patch: Mapping[str, Any], knobs: Mapping[str, tuple[Callable[[Any], bool], str]] | None = None
                   ) -> list[tuple[str, str]]:
    """(knob, what is wrong) for each key of ``patch`` that is not a valid value of a known knob."""
    knobs = RECALL_KNOBS if knobs is None else knobs
    problems: list[tuple[str, str]] = []
    for key, value in patch.items():
        if key not in knobs:
            problems.append((str(key), f"unknown knob (known: {', '.join(knobs)})"))
        elif not knobs[key][0](value):
            problems.append((str(key), f"must be {knobs[key][1]} (got {value!r})"))
    return problems


# --------------------------------------------------------------------------- techniques


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Technique:
    """One catalog entry. ``applies`` is False when the patch is empty (redesign needed)."""

    name: str
    category: str
    effort: str
    patterns: tuple[str, ...]
    config_patch: dict[str, Any] = field(default_factory=dict, hash=False)
    description: str = ""
    applies: bool = True
    supersedes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(self.patterns))
        object.__setattr__(self, "supersedes", tuple(self.supersedes))
        if not self.config_patch:
            object.__setattr__(self, "applies", False)

    def search(self, text: str) -> re.Match[str] | None:
        """The first match of any of the patterns in ``text`` (case-insensitive)."""
        for pattern in self.patterns:
            found = _compile(pattern).search(text)
            if found:
                return found
        return None


def _entry_model() -> Any:
    """The pydantic model of one catalog entry (built on first use: pydantic is imported lazily)."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field, field_validator

    class Entry(BaseModel):
        model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

        name: str = Field(min_length=1)
        category: Literal["architecture", "training", "data", "inference"] | None = None
        effort: Literal["Low", "Medium", "High"] | None = None
        patterns: list[str] | None = None
        config_patch: dict[str, Any] | None = None
        description: str | None = None
        supersedes: list[str] | None = None
        enabled: bool = True

        @field_validator("patterns")
        @classmethod
        def _compiles(cls, v: list[str] | None) -> list[str] | None:
            if v is None:
                return v
            if not v:
                raise ValueError("needs at least one pattern")
            for i, pattern in enumerate(v):
                try:
                    re.compile(pattern, re.IGNORECASE)
                except re.error as exc:
                    raise ValueError(f"[{i}] {pattern!r} is not a valid regular expression: {exc}") from None
            return v

    class Catalog(BaseModel):
        model_config = ConfigDict(extra="forbid")

        techniques: list[Entry] = Field(default_factory=list)

    return Catalog


def _read_catalog(text: str, source: str, *, complete: bool,
                  knobs: Mapping[str, tuple[Callable[[Any], bool], str]] | None) -> list[dict[str, Any]]:
    """Validated entries of one catalog file as dicts (only the keys the file sets)."""
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StateError(source, [("", f"not valid YAML: {' '.join(str(exc).split())}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StateError(source, [("", "the top level must be a mapping with `techniques:` "
                                       f"(got {type(data).__name__})")])
    raw = data.get("techniques")
    names = [e.get("name") if isinstance(e, dict) else None for e in raw] if isinstance(raw, list) else []

    def where(loc: tuple[Any, ...]) -> str:
        out = ""
        for i, part in enumerate(loc):
            if isinstance(part, int):
                out += f"[{part}]"
                if i == 1 and loc[0] == "techniques" and part < len(names) and names[part]:
                    out += f" ({names[part]})"
            else:
                out += ("." if out else "") + str(part)
        return out

    model = _entry_model()
    try:
        catalog = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (a typo?)"
            elif err["type"] == "missing":
                msg = "required but missing"
            elif err["type"] != "value_error":
                msg = f"{msg} (got {err.get('input')!r})"
            problems.append((where(tuple(err["loc"])), msg))
        raise StateError(source, problems) from None

    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    problems: list[tuple[str, str]] = []
    for i, entry in enumerate(catalog.techniques):
        label = f"techniques[{i}] ({entry.name})"
        key = entry.name.casefold()
        if key in seen:
            problems.append((f"{label}.name", f"{entry.name!r} appears twice"))
        seen.add(key)
        values = entry.model_dump(exclude_unset=True)
        if complete and entry.enabled:
            for required in ("category", "effort", "patterns"):
                if values.get(required) is None:
                    problems.append((f"{label}.{required}", "required but missing"))
        if entry.config_patch:
            for knob, msg in patch_problems(entry.config_patch, knobs):
                problems.append((f"{label}.config_patch.{knob}", msg))
        entries.append(values)
    if problems:
        raise StateError(source, problems)
    return entries


def _technique(values: Mapping[str, Any]) -> Technique:
    return Technique(
        name=values["name"],
        category=values["category"],
        effort=values["effort"],
        patterns=tuple(values["patterns"]),
        config_patch=dict(values.get("config_patch") or {}),
        description=values.get("description") or "",
        supersedes=tuple(values.get("supersedes") or ()),
    )


def load_catalog(home: Path | None = None, *,
                 knobs: Mapping[str, tuple[Callable[[Any], bool], str]] | None = None) -> list[Technique]:
    """The shipped catalog, extended and overridden by name by ``home / "techniques.yaml"``.

    A user entry whose name matches a shipped one (case-insensitive) replaces the keys it sets
    (so ``{name: dropout, config_patch: {dropout: 0.2}}`` only changes the patch); a new name
    must set category, effort and patterns; ``enabled: false`` removes the technique. Patches are
    checked against ``knobs`` (default :data:`RECALL_KNOBS`). Raises :class:`StateError` naming
    the file, the entry and the field of the first problem.
    """
    from importlib import resources

    shipped = resources.files("autobench.research") / "catalog" / CATALOG_FILE
    merged: dict[str, dict[str, Any]] = {}
    for values in _read_catalog(shipped.read_text(encoding="utf-8"), f"autobench/research/catalog/{CATALOG_FILE}",
                                complete=True, knobs=knobs):
        merged[values["name"].casefold()] = values
    if home is not None:
        user = Path(home) / CATALOG_FILE
        if user.exists():
            try:
                text = user.read_text(encoding="utf-8")
            except OSError as exc:
                raise StateError(CATALOG_FILE, [("", f"cannot be read: {exc}")]) from None
            overrides = _read_catalog(text, CATALOG_FILE, complete=False, knobs=knobs)
            problems = []
            for i, values in enumerate(overrides):
                key = values["name"].casefold()
                base = merged.get(key, {})
                combined = {**base, **values}
                if "config_patch" in values and not values["config_patch"]:
                    combined["config_patch"] = {}
                if combined.get("enabled", True) is False:
                    merged.pop(key, None)
                    continue
                missing = [k for k in ("category", "effort", "patterns") if combined.get(k) is None]
                if missing:
                    problems.extend((f"techniques[{i}] ({values['name']}).{k}",
                                     "required for a technique the shipped catalog does not have") for k in missing)
                    continue
                merged[key] = combined
            if problems:
                raise StateError(CATALOG_FILE, problems)
    return [_technique(v) for v in merged.values()]


__all__ = ["CATALOG_FILE", "CATEGORIES", "EFFORTS", "RECALL_KNOBS", "Technique", "load_catalog", "patch_problems"]
