"""One shape for every swappable part (scrape methods, paper sources, seed policies, experiment
backends, notifiers): a small base class in the part's ``base`` module, one module per
implementation, and one :class:`Registry` naming them.

A registry maps a name to ``"module:Class"``; the class is imported only when it is used, so
listing the names (what schemas and DAG Params derive their allowed values from) imports
nothing heavy. A new implementation is one module and one line in its registry, or, from code
outside the package (a team's plug-in, a test), one :meth:`Registry.register` call.

Standard library only: importable by the lean experiment runner.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any


class Registry:
    """Names → implementations of one kind of swappable part.

    :param kind: what the parts are, as an error message says it ("seed policy").
    :param entries: name → ``"module:attribute"`` (imported on first use) or the class itself.
    :param error: the exception type :meth:`get` and :meth:`create` raise (ValueError by default).
    """

    def __init__(self, kind: str, entries: dict[str, str | type], *, error: type[Exception] = ValueError):
        self.kind = kind
        self._entries: dict[str, str | type] = dict(entries)
        self.error = error

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order (schemas' and Params' allowed values)."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def register(self, name: str, target: str | type, *, replace: bool = False) -> None:
        """Add an implementation (``"module:Class"`` or the class). Re-registering a name needs
        ``replace=True``: two parts answering to one name is a mistake, not an override."""
        if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
            raise self.error(f"a {self.kind} name is letters, digits and '_' (got {name!r})")
        if name in self._entries and not replace and self._entries[name] is not target:
            raise self.error(f"a {self.kind} called {name!r} is already registered")
        self._entries[name] = target

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> type:
        """The implementation called ``name`` (an unknown name is an error listing the known ones)."""
        try:
            target = self._entries[name]
        except (KeyError, TypeError):
            raise self.error(f"unknown {self.kind} {name!r} (choose from {', '.join(self.names())})") from None
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
        return target

    def create(self, name: str, *args: Any, **options: Any) -> Any:
        """An instance of ``name`` built with ``options``; an option its constructor does not take
        is an error naming the ones it does."""
        cls = self.get(name)
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD
                        for p in inspect.signature(cls.__init__).parameters.values())
        unknown = sorted(set(options) - set(allowed))
        if unknown and not takes_any:
            raise self.error(f"unknown option {unknown[0]!r} for the {name} {self.kind} "
                             f"(options: {', '.join(allowed) or 'none'})")
        return cls(*args, **options)

    def check(self, name: str) -> str:
        """``name`` if registered (a ValueError for pydantic validators otherwise)."""
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r} (choose from {', '.join(self.names())})")
        return name

    def validator(self) -> Callable[[str], str]:
        return self.check

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
