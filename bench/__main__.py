"""Runs every registered benchmark and prints: benchmark, measured, target, pass/fail.

    python -m bench                 all rows
    python -m bench login memory    only rows whose name contains one of the words

Exits non-zero when a row fails or cannot be measured.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import bench
from bench.registry import REGISTRY, Benchmark, Result
from bench.workspace import Workspace

HEADERS = ("Benchmark", "Measured", "Target", "Result", "Detail")


def load_all() -> list[Benchmark]:
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name not in ("__main__", "registry", "workspace"):
            importlib.import_module(f"bench.{module.name}")
    return sorted(REGISTRY, key=lambda b: b.order)  # stable: registration order within an order


def run(selected: list[Benchmark]) -> list[tuple[str, ...]]:
    rows = []
    ws = Workspace()
    try:
        for item in selected:
            print(f"… {item.name}", file=sys.stderr, flush=True)
            try:
                result: Result = item.run(ws)
                rows.append(
                    (
                        item.name,
                        result.shown,
                        item.target,
                        "pass" if result.passed else "FAIL",
                        result.detail,
                    )
                )
            except Exception as exc:  # noqa: BLE001 - one broken row must not hide the others
                rows.append((item.name, "-", item.target, "ERROR", f"{type(exc).__name__}: {exc}"))
    finally:
        ws.close()
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    table = [HEADERS, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS))]
    line = "  ".join("-" * w for w in widths)
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print(line)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.ERROR)
    words = [w.lower() for w in argv]
    selected = [b for b in load_all() if not words or any(w in b.name.lower() for w in words)]
    if not selected:
        print("No benchmark matches " + " ".join(argv), file=sys.stderr)
        return 2
    rows = run(selected)
    print_table(rows)
    return 0 if all(row[3] == "pass" for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
