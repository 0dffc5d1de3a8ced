"""Lists of whole records on the platform's list index (storage/app_index.py).

Vehicles and deals show rows that are their whole record, so each index entry carries the
record's document (as extended JSON, decoded only for the rows of a page), the filter
fields (decoded for a scan) and the sort keys. A repository declares its `ListSpec` and
asks `DocList.page` with:

- the sort tree and direction;
- the *driver*: a tree and key prefix that serves one filter exactly (a filter that is a
  sort prefix, like a vehicle's status or make), or an exact-lookup field and value;
- a predicate over the filter fields for whatever the driver does not serve.

With no predicate and the driver being the sort tree (or no driver), a page costs a page
of the index. Otherwise the driver's entries are scanned (the index's entries, never the
records), filtered, ordered by their stored sort keys and sliced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import json_util

from alko_desk.storage.app_index import IndexEntry, ListRepository, ListSpec
from alko_desk.storage.mongo import Store

KEY_SEP = "\x1e"  # between parts of one key: below every character of a part
ALL = 10**9
_JSON_OUT = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED)
_JSON_IN = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)


def stamp(at: datetime | None) -> str:
    """A datetime as a fixed-width key (UTC, microseconds)."""
    return at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f") if at else "0" * 20


def number(value: int, width: int = 15) -> str:
    """A non-negative integer as a fixed-width key (negatives sort first, as 0)."""
    return f"{max(0, int(value)):0{width}d}"


def part(*parts: str) -> str:
    """A key (or a prefix) of several parts: each part ends with KEY_SEP."""
    return "".join(p + KEY_SEP for p in parts)


@dataclass(frozen=True)
class Listed:
    """What the index keeps for one record."""

    id: str
    keys: Mapping[str, str]
    fields: Sequence[Any]  # JSON values the filters read
    doc: dict[str, Any]  # the record's document, as its repository stores it
    exact: Mapping[str, Sequence[str]] | None = None


@dataclass(frozen=True)
class Driver:
    """How the index narrows a filtered list before any scan."""

    tree: str = ""  # a sort whose keys start with `prefix`
    prefix: str = ""
    exact_field: str = ""  # or an exact lookup
    exact_value: str = ""
    # sorts whose order the tree's keys keep within `prefix` (keys "state\x1e<created>"
    # are in created order within one state): such a filter and sort is a page read too
    orders: tuple[str, ...] = ()


def _entry(item: Listed) -> IndexEntry:
    return IndexEntry(
        id=item.id,
        keys=dict(item.keys),
        payload={
            "k": dict(item.keys),
            "f": list(item.fields),
            "d": json_util.dumps(item.doc, json_options=_JSON_OUT),
        },
        exact=dict(item.exact or {}),
    )


def _hit(record_id: str, payload: Any) -> tuple[str, Any]:
    return record_id, payload


def decode(payload: Any) -> dict[str, Any]:
    """The stored document of an index hit."""
    return json_util.loads(payload["d"], json_options=_JSON_IN)


class DocList:
    def __init__(self, store: Store, spec: ListSpec) -> None:
        self.spec = spec
        self._list: ListRepository[Listed, tuple[str, Any]] = ListRepository(
            store, spec, entry=_entry, row=_hit
        )

    def ensure(self) -> None:
        self._list.ensure()

    def put(self, item: Listed) -> None:
        self._list.put(item)

    def put_many(self, items: Iterable[Listed]) -> None:
        self._list.put_many(items)

    def remove(self, record_id: str) -> None:
        self._list.remove(record_id)

    def count(self) -> int:
        return self._list.count()

    def clear_cache(self) -> None:
        self._list.clear_cache()

    def page(
        self,
        sort: str,
        descending: bool,
        start: int,
        count: int,
        driver: Driver | None = None,
        keep: Callable[[Sequence[Any]], bool] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Documents start..start+count and the total matching."""
        start, count = max(0, start), max(0, count)
        driver = driver or Driver()
        if keep is None and not driver.exact_field:
            tree = sort if driver.tree in ("", sort) else driver.tree
            if tree == sort or sort in driver.orders:
                total = self._list.count(tree, driver.prefix)
                hits = self._list.page(tree, start, count, descending, driver.prefix)
                return [decode(p) for _, p in hits], total
        hits = self._scan(driver, sort)
        if keep is not None:
            hits = [h for h in hits if keep(h[1]["f"])]
        if driver.exact_field or driver.tree not in ("", sort):
            hits.sort(key=lambda h: (h[1]["k"][sort], h[0]))
        if descending:
            hits.reverse()
        return [decode(p) for _, p in hits[start : start + count]], len(hits)

    def _scan(self, driver: Driver, sort: str) -> list[tuple[str, Any]]:
        if driver.exact_field:
            return self._list.lookup(driver.exact_field, driver.exact_value)
        return self._list.page(driver.tree or sort, 0, ALL, False, driver.prefix)
