"""A small registry of benchmarks: each is a function that measures one thing against a target.

Adding a row: in any module of the `bench` package,

    from bench.registry import Result, benchmark

    @benchmark("Client search, 100,000 clients", target="< 200 ms")
    def client_search(ws: Workspace) -> Result:
        ...
        return Result.at_most(measured_ms, 200, "ms", detail="median of 5")

`python -m bench` imports every module of the package and runs the rows in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.workspace import Workspace


@dataclass(frozen=True)
class Result:
    value: float
    unit: str
    passed: bool
    detail: str = ""

    @classmethod
    def at_most(cls, value: float, limit: float, unit: str, detail: str = "") -> Result:
        return cls(value, unit, value <= limit, detail)

    @property
    def shown(self) -> str:
        digits = 0 if abs(self.value) >= 100 else 2 if abs(self.value) < 10 else 1
        return f"{self.value:.{digits}f} {self.unit}".strip()


@dataclass(frozen=True)
class Benchmark:
    name: str
    target: str
    run: Callable[[Workspace], Result]
    order: int


REGISTRY: list[Benchmark] = []


def benchmark(name: str, *, target: str, order: int = 100) -> Callable:
    """Registers a benchmark; rows print by `order`, then in the order they were registered."""

    def register(fn: Callable[[Workspace], Result]) -> Callable[[Workspace], Result]:
        REGISTRY.append(Benchmark(name, target, fn, order))
        return fn

    return register
