"""What one area needs of another, handed over by the assembly instead of imported: an area
declares a small protocol (the review area's `ItemActions`), another area implements it (the
feed's items), and the assembly puts the implementation here. Routes get it with
`cameoguard.deps.service(Kind)`; workers are built with it."""

from __future__ import annotations

from typing import Any, TypeVar, cast

T = TypeVar("T")


class MissingService(RuntimeError):
    """The assembly did not provide what an area needs."""


class Services:
    def __init__(self) -> None:
        self._provided: dict[type[Any], object] = {}

    def provide(self, kind: type[T], implementation: T) -> None:
        self._provided[kind] = implementation

    def get(self, kind: type[T]) -> T:
        if kind not in self._provided:
            raise MissingService(f"no {kind.__name__} was provided by the assembly")
        return cast(T, self._provided[kind])
