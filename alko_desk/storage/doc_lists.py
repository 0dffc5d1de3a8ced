"""Lists of whole records on the platform's list index (storage/app_index.py).

Vehicles and deals show rows that are their whole record, so each index entry carries the
record's document (as extended JSON, decoded only for the rows of a page), the filter
fields and the sort keys. A repository declares its `ListSpec` (sorts, equality filters,
ranged sorts) and asks `DocList.page` with the sort, the direction and a `Where`: its
equality values and key ranges are served by the index at the cost of a page
(app_index.py); `keep`, a predicate over the filter fields, is for what no index serves
(a "contains" text).

A filter on an exact-lookup field (a client's deals) reads that record's few entries and
orders them by their stored sort keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import json_util

from alko_desk.storage.app_index import EVERYTHING, IndexEntry, ListRepository, ListSpec, Where
from alko_desk.storage.mongo import Store

KEY_SEP = "\x1e"  # between parts of one key: below every character of a part
_JSON_OUT = json_util.JSONOptions(json_mode=json_util.JSONMode.RELAXED)
_JSON_IN = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)


def stamp(at: datetime | None) -> str:
    """A datetime as a fixed-width key (UTC, microseconds)."""
    return at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f") if at else "0" * 20


def stored(at: datetime) -> datetime:
    """A datetime as the database keeps it (BSON: milliseconds). Keys made from a record
    before it is stored must equal those made from it read back: otherwise the first
    `get_for_write` finds the entry changed and rewrites every tree of the record."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


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
    equal: Mapping[str, str] | None = None  # the declared equality filters' values


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
        equal=dict(item.equal or {}),
        version=item.doc.get("rev"),
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

    def bulk_load(self, items: Iterable[Listed]) -> None:
        """Many records at once (seeding, imports): one sorted pass, one commit."""
        self._list.bulk_load(items)

    def remove(self, record_id: str) -> None:
        self._list.remove(record_id)

    def remove_many(self, record_ids: Iterable[str]) -> None:
        self._list.remove_many(record_ids)

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
        where: Where = EVERYTHING,
        keep: Callable[[Sequence[Any]], bool] | None = None,
        exact: tuple[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Documents start..start+count and the total matching: those with the `exact`
        field value if given (then `keep` alone filters them), else those matching `where`
        and `keep` (over the stored filter fields)."""
        start, count = max(0, start), max(0, count)
        if exact is not None:
            hits = self._list.lookup(*exact)
            if keep is not None:
                hits = [h for h in hits if keep(h[1]["f"])]
            hits.sort(key=lambda h: (h[1]["k"][sort], h[0]), reverse=descending)
            return [decode(p) for _, p in hits[start : start + count]], len(hits)
        if keep is not None:
            where = Where(where.equal, where.ranges, lambda payload: keep(payload["f"]))
        total = self._list.count(sort, where=where)
        hits = self._list.page(sort, start, count, descending, where=where) if total else []
        return [decode(p) for _, p in hits], total
