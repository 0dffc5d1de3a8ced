"""The append-only audit log, in blocks of 1,000 entries keyed by a zero-padded sequence."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from alko_desk.storage.mongo import Store, repository

BLOCK_SIZE = 1000
HEAD_DOC_ID = "audit_head"
# The unreviewed flags, kept by reading each entry once (services/audit.py `open_flags`).
FLAGS_DOC_ID = "audit_flags"


def entry_id(seq: int) -> str:
    return f"{seq:012d}"


def block_of(seq: int) -> str:
    return f"{seq // BLOCK_SIZE:06d}"


@repository
class AuditRepository:
    def __init__(self, store: Store) -> None:
        self._entries = store.partitioned_collection("audit")
        self._meta = store.collection("meta")

    def get(self, seq: int) -> dict | None:
        return self._entries.find_one(block_of(seq), entry_id(seq))

    def try_insert(self, doc: dict) -> bool:
        """Claims the entry's sequence number; False if another desk claimed it first."""
        try:
            self._entries.insert_one(block_of(doc["seq"]), {"_id": entry_id(doc["seq"]), **doc})
        except DuplicateKeyError:
            return False
        return True

    def head_hint(self) -> tuple[int, str | None]:
        """The newest (seq, hash) some desk recorded; entries past it may exist if a desk crashed."""
        doc = self._meta.find_one({"_id": HEAD_DOC_ID})
        return (int(doc["seq"]), doc.get("hash")) if doc else (0, None)

    def advance_head_hint(self, seq: int, hash_: str) -> None:
        # meta is a handful of documents, so this compound filter is cheap on FerretDB too.
        try:
            self._meta.update_one(
                {"_id": HEAD_DOC_ID, "seq": {"$lt": seq}},
                {"$set": {"seq": seq, "hash": hash_}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # another desk advanced it further already

    def block_keys(self) -> list[str]:
        return self._entries.part_keys()

    def entries_in_block(self, key: str) -> list[dict]:
        return sorted(self._entries.find_all(key), key=lambda d: d["seq"])

    def blocks_after(self, seq: int) -> list[str]:
        """The blocks that may hold entries after `seq`, in order."""
        first = block_of(seq + 1)
        return [key for key in self.block_keys() if key >= first]

    # -- the index of unreviewed flags ---------------------------------------------------------

    def flag_index(self) -> tuple[int, list[int], bytes | None]:
        """(the last entry the index has read, the flagged entries still unreviewed then,
        the index's MAC)."""
        doc = self._meta.find_one({"_id": FLAGS_DOC_ID})
        if not doc:
            return 0, [], None
        mac = doc.get("mac")
        return int(doc["scanned"]), [int(s) for s in doc["open"]], bytes(mac) if mac else None

    def save_flag_index(
        self, was: int, scanned: int, open_flags: list[int], mac: bytes | None = None
    ) -> bool:
        """Moves the index from entry `was` on to `scanned`; False if another desk moved it
        first (its answer is as good: both read the same entries)."""
        try:
            result = self._meta.update_one(
                {"_id": FLAGS_DOC_ID, "scanned": was},
                {"$set": {"scanned": scanned, "open": open_flags, "mac": mac}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # the document exists and is at another entry
        return result.matched_count == 1 or result.upserted_id is not None
