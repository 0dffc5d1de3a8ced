"""Encrypted pages waiting on this desk for their upload, retried with a growing delay.

Each waiting page is two files named by its asset id: the ciphertext (`.bin`) and its
retry state (`.json`). A page enters the outbox before its document is recorded and leaves
it only once the store has confirmed the upload, so a crash or a lost network loses
nothing; the asset id stays the same on every try, so a retry never duplicates an asset.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from alko_desk.models.documents import FlushResult
from alko_desk.storage.document_store import ASSET_ID, DocumentStore

__all__ = ["DocumentOutbox", "FlushResult", "OutboxEntry", "backoff"]

FIRST_DELAY = timedelta(seconds=30)
LONGEST_DELAY = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min... at most an hour."""
    return min(FIRST_DELAY * (2 ** max(0, attempts - 1)), LONGEST_DELAY)


@dataclass(frozen=True)
class OutboxEntry:
    asset_id: str
    attempts: int
    next_attempt: datetime | None
    last_error: str
    group: str = ""  # the document the page belongs to


class DocumentOutbox:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()  # one flush at a time per desk process

    def _bin(self, asset_id: str) -> Path:
        return self.folder / f"{asset_id}.bin"

    def _state(self, asset_id: str) -> Path:
        return self.folder / f"{asset_id}.json"

    def add(self, asset_id: str, blob: bytes, now: datetime, *, group: str = "") -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(self._bin(asset_id), blob)
        self._save(OutboxEntry(asset_id, 0, now, "", group))

    def _save(self, entry: OutboxEntry) -> None:
        state = {
            "attempts": entry.attempts,
            "next_attempt": entry.next_attempt.isoformat() if entry.next_attempt else None,
            "last_error": entry.last_error,
            "group": entry.group,
        }
        _write_atomic(self._state(entry.asset_id), json.dumps(state).encode())

    def asset_ids(self) -> set[str]:
        if not self.folder.is_dir():
            return set()
        return {p.stem for p in self.folder.glob("*.bin") if ASSET_ID.match(p.stem)}

    def count(self) -> int:
        return len(self.asset_ids())

    def __contains__(self, asset_id: str) -> bool:
        return self._bin(asset_id).exists()

    def read(self, asset_id: str) -> bytes | None:
        try:
            return self._bin(asset_id).read_bytes()
        except FileNotFoundError:
            return None

    def entry(self, asset_id: str) -> OutboxEntry | None:
        try:
            state = json.loads(self._state(asset_id).read_text())
        except (FileNotFoundError, ValueError):
            if asset_id not in self:
                return None
            state = {}  # ciphertext without state (a crash between the two writes): due now
        next_attempt = state.get("next_attempt")
        return OutboxEntry(
            asset_id,
            int(state.get("attempts", 0)),
            datetime.fromisoformat(next_attempt) if next_attempt else None,
            state.get("last_error", ""),
            state.get("group", ""),
        )

    def group_count(self) -> int:
        """How many documents (a page without a known document counts as one) are waiting."""
        groups = set()
        for asset_id in self.asset_ids():
            entry = self.entry(asset_id)
            groups.add((entry.group if entry else "") or asset_id)
        return len(groups)

    def failed(self, asset_id: str, now: datetime, error: str) -> None:
        """Records a failed try: the next one after a delay that doubles each time."""
        entry = self.entry(asset_id)
        if entry is None:
            return
        attempts = entry.attempts + 1
        self._save(OutboxEntry(asset_id, attempts, now + backoff(attempts), error, entry.group))

    def remove(self, asset_id: str) -> None:
        for path in (self._bin(asset_id), self._state(asset_id)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def flush(self, store: DocumentStore, now: datetime, *, force: bool = False) -> FlushResult:
        """Uploads every page that is due (every page when `force`); the rest wait longer."""
        uploaded = failed = 0
        last_error = ""
        with self._lock:
            for asset_id in sorted(self.asset_ids()):
                entry = self.entry(asset_id)
                if entry is None:
                    continue
                if not force and entry.next_attempt is not None and entry.next_attempt > now:
                    continue
                blob = self.read(asset_id)
                if blob is None:
                    continue
                try:
                    store.put(asset_id, blob)
                except Exception as exc:  # noqa: BLE001 - every failure waits and is retried
                    failed += 1
                    last_error = getattr(exc, "message", "") or type(exc).__name__
                    self.failed(asset_id, now, last_error)
                    continue
                self.remove(asset_id)
                uploaded += 1
        return FlushResult(uploaded, failed, self.count(), last_error)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
