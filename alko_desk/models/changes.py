"""Change announcements: what a write changed, so that open screens refresh.

Every write that changes an entity appends a `Change` to one shared, numbered
change log; desks watch its head number and read what is new. The same records
travel from the showroom server to remote desks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class ChangeKind(enum.Enum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"
    MANY = "many"  # a bulk write: treat the whole entity as changed


@dataclass(frozen=True)
class Change:
    seq: int
    entity: str  # "clients", "vehicles", "deals", "invoices", ...
    kind: ChangeKind
    ids: tuple[str, ...] = ()  # empty with MANY
    at: datetime | None = None


@dataclass(frozen=True)
class ChangeBatch:
    """Changes after a sequence number. `complete` is False when older ones were pruned:
    the reader should then treat every entity as changed."""

    head: int
    changes: tuple[Change, ...]
    complete: bool = True
