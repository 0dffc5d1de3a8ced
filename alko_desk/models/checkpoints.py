"""Signed audit checkpoints: the showroom server vouches for the audit chain up to an entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuditCheckpoint:
    """Entries 1..`seq` of the audit log of database `scope` end in `head_hash`, as the server
    saw them at `time`; `signature` is its Ed25519 signature (base64) over all of that."""

    scope: str
    seq: int
    head_hash: str
    time: datetime
    signature: str
