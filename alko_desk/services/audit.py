"""Writing, reading and verifying the hash-chained audit log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

from alko_desk.models.audit import AuditAction, AuditCategory, AuditEntry, AuditFilter, ChainReport
from alko_desk.models.errors import AlkoError, PasswordChangeRequired, PermissionDenied
from alko_desk.models.users import Permission, Session
from alko_desk.security.audit_chain import GENESIS_HASH, entry_hash
from alko_desk.security.crypto import integrity_key, mac_matches, record_mac
from alko_desk.services.clock import Clock
from alko_desk.storage.audit_repo import AuditRepository


class HeadAnchor:
    """The latest chain head this desk has seen, kept outside the database (P11).

    Cutting entries off the end of the log is detected because the anchored
    entry must still be there, with the same hash.
    """

    def __init__(self, path: Path | None, scope: str) -> None:
        self._path = path
        self._scope = scope

    def read(self) -> tuple[int, str] | None:
        if not self._path or not self._path.exists():
            return None
        try:
            data = json.loads(self._path.read_text()).get(self._scope)
        except (OSError, ValueError):
            return None
        return (int(data["seq"]), str(data["hash"])) if data else None

    def write(self, seq: int, hash_: str) -> None:
        if not self._path:
            return
        try:
            data = json.loads(self._path.read_text()) if self._path.exists() else {}
        except (OSError, ValueError):
            data = {}
        current = data.get(self._scope)
        if current and int(current["seq"]) >= seq:
            return
        data[self._scope] = {"seq": seq, "hash": hash_}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._path)


def _entry_from_doc(doc: dict) -> AuditEntry:
    return AuditEntry(
        seq=doc["seq"],
        time=doc["time"],
        actor=doc["actor"],
        action=doc["action"],
        target=doc.get("target", ""),
        details=doc.get("details", {}),
        prev_hash=doc["prev"],
        hash=doc["hash"],
    )


class AuditLog:
    """Appends entries. Shared by every service; it never checks permissions itself."""

    def __init__(self, repo: AuditRepository, clock: Clock, anchor: HeadAnchor) -> None:
        self._repo = repo
        self._clock = clock
        self._anchor = anchor
        self._lock = threading.Lock()
        self._head: tuple[int, str] = (0, GENESIS_HASH)
        self._stale = True  # walk forward from the hint on the first append

    def record(
        self, actor: str, action: str, target: str = "", details: dict[str, Any] | None = None
    ) -> AuditEntry:
        details = dict(details or {})
        action = str(action)  # an AuditAction is stored (and hashed) as its plain value
        with self._lock:
            return self._append(actor, action, target, details)

    def _append(self, actor: str, action: str, target: str, details: dict[str, Any]) -> AuditEntry:
        for _ in range(100):
            prev_seq, prev_hash = self._current_head()
            seq = prev_seq + 1
            now = self._clock.now().astimezone(UTC)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            doc = {
                "seq": seq,
                "time": now,
                "actor": actor,
                "action": action,
                "target": target,
                "details": details,
                "prev": prev_hash,
                "hash": entry_hash(seq, now, actor, action, target, details, prev_hash),
            }
            if not self._repo.try_insert(doc):
                self._stale = True  # another desk took this number
                continue
            self._head = (seq, doc["hash"])
            self._repo.advance_head_hint(seq, doc["hash"])
            self._anchor.write(seq, doc["hash"])
            return _entry_from_doc(doc)
        raise AlkoError("The audit log is busy; please try again.")

    def _current_head(self) -> tuple[int, str]:
        """The newest entry: the shared hint, or further if a desk crashed before moving it.

        Inserting at seq+1 is the compare-and-set: if another desk took that number,
        the insert fails and we walk forward from the entries themselves.
        """
        seq, hash_ = self._head
        hint_seq, hint_hash = self._repo.head_hint()
        if hint_seq > seq:
            if hint_hash is None:
                hinted = self._repo.get(hint_seq)
                hint_hash = hinted["hash"] if hinted else None
            if hint_hash:
                seq, hash_ = hint_seq, hint_hash
        if not self._stale:
            return seq, hash_
        self._stale = False
        while True:
            nxt = self._repo.get(seq + 1)
            if not nxt:
                return seq, hash_
            seq, hash_ = nxt["seq"], nxt["hash"]

    def verify(self) -> ChainReport:
        """Checks every link; names the first entry that was edited, inserted or removed."""
        return self._verify()

    def _verify(self) -> ChainReport:
        # What the desks claim to have written is read before the entries: an entry written
        # while the chain is being read is then never taken for a removed one.
        hint, _ = self._repo.head_hint()
        anchored = self._anchor.read()
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        hashes: dict[int, str] = {}
        for key in self._repo.block_keys():
            for doc in self._repo.entries_in_block(key):
                seq = doc.get("seq")
                if seq != expected_seq:
                    bad = expected_seq if seq is None or seq > expected_seq else seq
                    return ChainReport(
                        False,
                        checked,
                        expected_seq - 1,
                        bad,
                        f"entry {bad} is missing or out of place",
                    )
                recomputed = entry_hash(
                    seq,
                    doc["time"],
                    doc["actor"],
                    doc["action"],
                    doc.get("target", ""),
                    doc.get("details", {}),
                    doc["prev"],
                )
                if doc["prev"] != prev_hash or recomputed != doc["hash"]:
                    return ChainReport(False, checked, seq - 1, seq, f"entry {seq} was altered")
                hashes[seq] = doc["hash"]
                prev_hash, expected_seq, checked = doc["hash"], seq + 1, checked + 1
        head = expected_seq - 1
        if hint > head:
            return ChainReport(
                False, checked, head, head + 1, f"entries {head + 1} to {hint} were removed"
            )
        if anchored:
            a_seq, a_hash = anchored
            if a_seq > head:
                return ChainReport(
                    False,
                    checked,
                    head,
                    head + 1,
                    f"entries after {head} were removed (this desk saw entry {a_seq})",
                )
            if hashes.get(a_seq) != a_hash:
                return ChainReport(
                    False, checked, head, a_seq, f"entry {a_seq} differs from the one this desk saw"
                )
        return ChainReport(True, checked, head)

    def entry(self, seq: int) -> AuditEntry | None:
        doc = self._repo.get(seq)
        return _entry_from_doc(doc) if doc else None

    def open_flags(self, mac_key: bytes | None = None) -> list[int]:
        """The flagged entries (fraud.*) that no review entry names yet, oldest first.

        Kept in a small index that every look brings up to date with the entries written
        since the last one (a block read per 1,000 of them), so that the log is read once
        in all, not once per look. With `mac_key` (a session's integrity key) the index
        carries a MAC: an index emptied or moved on outside ALKO Desk, to hide a flag, is
        not believed, and the whole log is read again.
        """
        was, still_open, mac = self._repo.flag_index()
        start, flags = was, dict.fromkeys(still_open)
        if (
            mac_key is not None
            and was
            and not mac_matches(mac_key, _FLAGS_MAC, _flag_fields(was, still_open), mac)
        ):
            start, flags = 0, {}
        scanned = start
        for doc in self._entries_after(start):
            scanned = doc["seq"]
            if doc["action"].startswith(FLAG_PREFIX):
                flags[scanned] = None
            elif doc["action"].startswith(REVIEWED_ACTION):
                flags.pop(doc.get("details", {}).get("seq"), None)
        if scanned != was or (mac_key is not None and start != was):
            fields = _flag_fields(scanned, list(flags))
            seal = record_mac(mac_key, _FLAGS_MAC, fields) if mac_key is not None else None
            self._repo.save_flag_index(was, scanned, list(flags), seal)
        return list(flags)

    def _entries_after(self, seq: int) -> Iterator[dict]:
        """The entries after `seq` in order, up to the first one not (yet) written."""
        for key in self._repo.blocks_after(seq):
            for doc in self._repo.entries_in_block(key):
                if doc["seq"] <= seq:
                    continue
                if doc["seq"] != seq + 1:
                    return
                seq += 1
                yield doc

    def query(self, flt: AuditFilter) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        for key in reversed(self._repo.block_keys()):
            for doc in reversed(self._repo.entries_in_block(key)):
                if _matches(doc, flt):
                    out.append(_entry_from_doc(doc))
                    if len(out) >= flt.limit:
                        return out
                elif flt.since and doc["time"] < flt.since:
                    return out
        return out


_FLAGS_MAC = "audit-flags"


def _flag_fields(scanned: int, open_flags: list[int]) -> dict:
    return {"scanned": int(scanned), "open": [int(f) for f in open_flags]}


def _matches(doc: dict, flt: AuditFilter) -> bool:
    if flt.actor and doc["actor"] != flt.actor:
        return False
    if flt.action_prefix and not doc["action"].startswith(flt.action_prefix):
        return False
    if flt.target and doc.get("target") != flt.target:
        return False
    if flt.since and doc["time"] < flt.since:
        return False
    return not (flt.until and doc["time"] > flt.until)


FLAG_PREFIX = AuditCategory.FRAUD.value
REVIEWED_ACTION = AuditAction.REVIEW_DONE  # not under FLAG_PREFIX: a review is not itself a flag


class AuditService:
    """The audit log as managers and admins see it."""

    def __init__(self, log: AuditLog, session: Session) -> None:
        self._log = log
        self._session = session

    def _require_own_password(self) -> None:
        # As every other service (services/base.py): a temporary password opens nothing else.
        if self._session.user.must_change_password:
            raise PasswordChangeRequired("Choose a new password before you continue.")

    def entries(self, flt: AuditFilter) -> list[AuditEntry]:
        self._require_own_password()
        self._require_read("read audit log", "Your role may not read the audit log.")
        return self._log.query(flt)

    def verify(self) -> ChainReport:
        self._require_own_password()
        self._require_read("verify", "Your role may not verify the audit log.")
        return self._log.verify()

    def _require_read(
        self, operation: str, refusal: str = "Your role may not review the audit log."
    ) -> None:
        """AUDIT_READ, or a denial recorded in the log itself and `refusal` raised."""
        if not self._session.can(Permission.AUDIT_READ):
            self._log.record(
                self._session.user.username,
                AuditAction.PERMISSION_DENIED,
                "audit",
                {"operation": operation},
            )
            raise PermissionDenied(refusal)

    def unreviewed_flags(self) -> list[AuditEntry]:
        """Flagged entries (fraud.*) that nobody has marked reviewed yet, newest first."""
        self._require_read("list flags")
        found = (self._log.entry(seq) for seq in reversed(self._open_flags()))
        return [entry for entry in found if entry is not None]

    def count_unreviewed_flags(self) -> int:
        """How many flagged entries nobody has marked reviewed yet (the Audit page's banner)."""
        self._require_read("count flags")
        return len(self._open_flags())

    def _open_flags(self) -> list[int]:
        return self._log.open_flags(integrity_key(self._session.org_key))

    def mark_reviewed(self, seq: int, note: str = "") -> AuditEntry:
        """Records that the caller looked at flagged entry `seq` (the log itself never changes)."""
        self._require_read("review flags")
        details: dict[str, Any] = {"seq": int(seq)}
        if note.strip():
            details["note"] = note.strip()
        return self._log.record(
            self._session.user.username, AuditAction.REVIEW_DONE, f"audit:{int(seq)}", details
        )
