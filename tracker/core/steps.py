"""A session's journey as read from its row, turned into ``Step`` objects only when used.

A session records up to 512 steps; one customer id sending events all day (a kiosk,
a bot) keeps a full journey in its row, and every message of theirs would decode
and re-encode all 512 steps although a full journey takes no new step: most of the
cost of their events. ``LazySteps`` is a list that holds the row's form until
something other than ``len()`` needs the steps; the encoder then writes the row's
form back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, SupportsIndex

_EAGER = frozenset({"_rows", "_labels", "_decode", "_materialize", "raw", "__class__"})


class LazySteps(list[Any]):
    """Steps as ``[at, label number, channel code, kind code]`` rows, decoded on first use."""

    __slots__ = ("_decode", "_labels", "_rows")

    def __init__(
        self, rows: list[Any], labels: list[str], decode: Callable[[list[Any]], list[Any]]
    ) -> None:
        super().__init__()
        self._rows: list[Any] | None = rows
        self._labels = labels
        self._decode = decode

    def raw(self) -> tuple[list[Any], list[str]] | None:
        """The row's form while no step was decoded (so none can have changed)."""
        rows = object.__getattribute__(self, "_rows")
        return None if rows is None else (rows, object.__getattribute__(self, "_labels"))

    def _materialize(self) -> None:
        rows = object.__getattribute__(self, "_rows")
        if rows is not None:
            self._rows = None
            list.extend(self, object.__getattribute__(self, "_decode")(rows))

    def __getattribute__(self, name: str) -> Any:
        # Every list method (append, insert, sort, index, ...) sees the decoded steps.
        if name not in _EAGER:
            object.__getattribute__(self, "_materialize")()
        return object.__getattribute__(self, name)

    def __len__(self) -> int:
        rows = object.__getattribute__(self, "_rows")
        return len(rows) if rows is not None else list.__len__(self)

    # The interpreter looks special methods up on the type, past __getattribute__.
    def __iter__(self) -> Iterator[Any]:
        self._materialize()
        return list.__iter__(self)

    def __reversed__(self) -> Iterator[Any]:
        self._materialize()
        return list.__reversed__(self)

    def __getitem__(self, index: Any) -> Any:
        self._materialize()
        return list.__getitem__(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._materialize()
        list.__setitem__(self, index, value)

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        self._materialize()
        list.__delitem__(self, index)

    def __contains__(self, value: object) -> bool:
        self._materialize()
        return list.__contains__(self, value)

    def __eq__(self, other: object) -> bool:
        self._materialize()
        if isinstance(other, LazySteps):
            other._materialize()
        return list.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None

    def __add__(self, other: Any) -> list[Any]:
        self._materialize()
        return list(list.__iter__(self)) + list(other)

    def __radd__(self, other: Any) -> list[Any]:
        self._materialize()
        return list(other) + list(list.__iter__(self))

    def __iadd__(self, other: Any) -> LazySteps:
        self._materialize()
        list.extend(self, other)
        return self

    def __repr__(self) -> str:
        self._materialize()
        return list.__repr__(self)

    def __copy__(self) -> list[Any]:
        self._materialize()
        return list(list.__iter__(self))

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        import copy

        self._materialize()
        return [copy.deepcopy(step, memo) for step in list.__iter__(self)]

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        self._materialize()
        return (list, (list(list.__iter__(self)),))
