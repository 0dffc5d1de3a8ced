"""The client list and name search over the directory partitions.

The directory keeps, for every word of a client's name, a small entry in the
partition named after the word's first two letters. The list in name order
walks the partitions in order, using the counts document to jump to a row
number; a name search reads the one partition its longest word falls in.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter

from alko_desk.models.clients import ClientRow, ClientSort, ClientStatus
from alko_desk.models.errors import UnreadableRecord
from alko_desk.models.text import fold, words
from alko_desk.security.crypto import OrgKeys
from alko_desk.storage.clients_repo import DirectoryEntry, DirectoryRepository

CACHE_SECONDS = 15.0
CACHE_ENTRIES = 40_000  # about 30 MB of entries; older partitions are read again when needed
SEARCH_LIMIT = 500
_BY_KEY = attrgetter("k")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def directory_part(token: str) -> str:
    prefix = token[:2]
    if prefix.isascii() and prefix.isalnum():
        return prefix
    return "x" + prefix.encode("utf-8").hex()


def part_prefix(part: str) -> str:
    if part.startswith("x") and len(part) > 1 and not part[1:].isalpha():
        try:
            return bytes.fromhex(part[1:]).decode("utf-8")
        except ValueError:
            return part
    return part


@dataclass(frozen=True)
class DirectoryListing:
    """What the directory holds for one client (plain data from the service)."""

    client_id: str
    first_name: str
    last_name: str
    status: ClientStatus
    last_activity: datetime | None
    city: str
    phone_masked: str


def sort_key(first_name: str, last_name: str, client_id: str) -> str:
    return f"{fold(last_name)}\x1f{fold(first_name)}\x1f{client_id}"


class ClientDirectory:
    def __init__(self, repo: DirectoryRepository, keys: OrgKeys) -> None:
        self._repo = repo
        self._keys = keys
        self._lock = threading.Lock()
        self._parts: OrderedDict[str, tuple[float, list[dict]]] = (
            OrderedDict()
        )  # least recently used first
        self._cached_entries = 0
        self._counts: tuple[float, dict] | None = None

    # -- writing -------------------------------------------------------------------------
    def entries_for(self, listing: DirectoryListing) -> list[tuple[str, DirectoryEntry]]:
        """(partition, entry) for every name word, and one primary entry for the whole last name."""
        last = fold(listing.last_name)
        tokens = [last] + [
            w for w in words(f"{listing.first_name} {listing.last_name}") if w != last
        ]
        key = sort_key(listing.first_name, listing.last_name, listing.client_id)
        extra = json.dumps(
            {"city": listing.city, "phone": listing.phone_masked}, ensure_ascii=False
        ).encode()
        out = []
        for i, token in enumerate(dict.fromkeys(tokens)):
            entry_id = f"{listing.client_id}:{i}"
            out.append(
                (
                    directory_part(token),
                    DirectoryEntry(
                        id=entry_id,
                        c=listing.client_id,
                        t=token,
                        k=key,
                        p=1 if i == 0 else 0,
                        n=f"{listing.first_name} {listing.last_name}".strip(),
                        s=listing.status.value,
                        a=listing.last_activity.isoformat() if listing.last_activity else "",
                        x=base64.b64encode(self._keys.seal_directory(entry_id, extra)).decode(
                            "ascii"
                        ),
                    ),
                )
            )
        return out

    @staticmethod
    def placement(entries: list[tuple[str, DirectoryEntry]]) -> list[str]:
        """Where a client's entries live, as "part|entry_id" (FerretDB stores no nested arrays)."""
        return [f"{part}|{e.id}" for part, e in entries]

    def index(self, listing: DirectoryListing, previous: list[str] | None = None) -> list[str]:
        """Writes the client's entries, removes stale ones; idempotent. Returns their placement."""
        entries = self.entries_for(listing)
        before = {tuple(p.split("|", 1)) for p in previous or []}
        wanted = {(part, e.id) for part, e in entries}
        deltas: dict[str, list[int]] = {}
        for part, entry_id in before - wanted:
            self._repo.remove(part, entry_id)
            d = deltas.setdefault(part, [0, 0])
            d[0] -= 1 if entry_id.endswith(":0") else 0
            d[1] -= 1
        for part, entry in entries:
            self._repo.put(part, entry)
            if (part, entry.id) not in before:
                d = deltas.setdefault(part, [0, 0])
                d[0] += entry.p
                d[1] += 1
        self._apply_deltas(deltas)
        self.invalidate()
        return self.placement(entries)

    def index_many(self, listings: list[DirectoryListing]) -> None:
        """Bulk path for new clients (seeding): one insert per partition."""
        by_part: dict[str, list[dict]] = {}
        deltas: dict[str, list[int]] = {}
        for listing in listings:
            for part, entry in self.entries_for(listing):
                by_part.setdefault(part, []).append(entry)
                d = deltas.setdefault(part, [0, 0])
                d[1] += 1
                d[0] += entry.p
        for part, entries in by_part.items():
            self._repo.insert_many(part, entries)
        self._apply_deltas(deltas)
        self.invalidate()

    def _apply_deltas(self, deltas: dict[str, list[int]]) -> None:
        flat = {}
        for part, (rows, entries) in deltas.items():
            if rows:
                flat[f"rows.{part}"] = rows
            if entries:
                flat[f"entries.{part}"] = entries
        self._repo.adjust_counts(flat)

    def invalidate(self) -> None:
        with self._lock:
            self._parts.clear()
            self._cached_entries = 0
            self._counts = None

    # -- reading -------------------------------------------------------------------------
    def _all_counts(self) -> dict:
        with self._lock:
            if self._counts and time.monotonic() - self._counts[0] < CACHE_SECONDS:
                return self._counts[1]
        raw = self._repo.counts_doc()
        counts = {
            "rows": {k: int(v) for k, v in (raw.get("rows") or {}).items() if int(v) > 0},
            "entries": {k: int(v) for k, v in (raw.get("entries") or {}).items() if int(v) > 0},
        }
        with self._lock:
            self._counts = (time.monotonic(), counts)
        return counts

    def _read_part(self, part: str) -> list[dict]:
        with self._lock:
            cached = self._parts.get(part)
            if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
                self._parts.move_to_end(part)
                return cached[1]
        entries = sorted(self._repo.read_part(part), key=_BY_KEY)
        self._heal_counts(part, entries)
        with self._lock:
            old = self._parts.pop(part, None)
            self._cached_entries += len(entries) - (len(old[1]) if old else 0)
            self._parts[part] = (time.monotonic(), entries)
            while self._cached_entries > CACHE_ENTRIES and len(self._parts) > 1:
                _, (_, evicted) = self._parts.popitem(last=False)
                self._cached_entries -= len(evicted)
        return entries

    def _heal_counts(self, part: str, entries: list[dict]) -> None:
        """An interrupted write can leave a counter off by one; the partition itself is the truth."""
        counts = self._all_counts()
        rows = sum(e.p for e in entries)
        if counts["rows"].get(part, 0) != rows or counts["entries"].get(part, 0) != len(entries):
            self._repo.set_counts(part, rows, len(entries))
            with self._lock:
                self._counts = None

    def total(self) -> int:
        return sum(self._all_counts()["rows"].values())

    def page(
        self,
        start: int,
        count: int,
        *,
        sort: ClientSort = ClientSort.NAME,
        descending: bool = False,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[ClientRow]:
        if sort is not ClientSort.NAME:
            rows = self.all_rows(sort, descending, progress, cancelled)
            return rows[start : start + count]
        rows_per_part = self._all_counts()["rows"]
        parts = sorted(rows_per_part, key=part_prefix, reverse=descending)
        out: list[ClientRow] = []
        offset = 0
        for part in parts:
            n = rows_per_part[part]
            if offset + n <= start:
                offset += n
                continue
            primaries = [e for e in self._read_part(part) if e.p]
            if descending:
                primaries.reverse()
            skip = max(0, start - offset)
            out.extend(self._row(e) for e in primaries[skip : skip + count - len(out)])
            offset += n
            if len(out) >= count:
                break
        return out

    def all_rows(
        self,
        sort: ClientSort,
        descending: bool,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[ClientRow]:
        """Every row, for sorts the partitions do not follow; reads the whole directory."""
        parts = sorted(self._all_counts()["rows"], key=part_prefix)
        rows: list[ClientRow] = []
        for i, part in enumerate(parts):
            if cancelled and cancelled():
                return []
            rows.extend(self._row(e) for e in self._read_part(part) if e.p)
            if progress:
                progress(i + 1, len(parts))
        if sort is ClientSort.STATUS:
            rows.sort(key=lambda r: (r.status.value, fold(r.display_name)), reverse=descending)
        elif sort is ClientSort.LAST_ACTIVITY:
            rows.sort(key=lambda r: r.last_activity or _EPOCH, reverse=descending)
        else:
            rows.sort(key=lambda r: fold(r.display_name), reverse=descending)
        return rows

    def search(self, text: str, limit: int = SEARCH_LIMIT) -> list[ClientRow]:
        """Name prefixes, any order, case- and accent-insensitive: "zelj kov" finds "Željko Kovač"."""
        query = words(text)
        if not query:
            return []
        longest = max(query, key=len)
        if len(longest) >= 2:
            parts = [directory_part(longest)]
        else:
            parts = [p for p in self._all_counts()["entries"] if part_prefix(p).startswith(longest)]
        seen: dict[str, dict] = {}
        for part in parts:
            for entry in self._read_part(part):
                if entry.c in seen or not entry.t.startswith(longest):
                    continue
                name_words = entry.k.rsplit("\x1f", 1)[0].replace("\x1f", " ").split()
                if all(any(w.startswith(q) for w in name_words) for q in query):
                    seen[entry.c] = entry
        ordered = sorted(seen.values(), key=_BY_KEY)[:limit]
        return [self._row(e) for e in ordered]

    def _row(self, entry: DirectoryEntry) -> ClientRow:
        """Only rows shown are decoded; a partition read keeps its entries as stored."""
        try:
            extra = json.loads(self._keys.open_directory(entry.id, base64.b64decode(entry.x)))
        except (UnreadableRecord, ValueError):
            extra = {"city": "", "phone": "unreadable"}
        return ClientRow(
            id=entry.c,
            display_name=entry.n,
            city=extra.get("city", ""),
            phone_masked=extra.get("phone", ""),
            status=ClientStatus(entry.s),
            last_activity=datetime.fromisoformat(entry.a) if entry.a else None,
        )
