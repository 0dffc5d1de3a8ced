"""Signing and checking audit checkpoints (Ed25519), and checking a chain against them.

A database writer can recompute the unkeyed hash chain after rewriting, truncating or
appending entries; it cannot produce the server's signature. So a chain that no longer
ends a signed checkpoint's prefix in the signed hash, or is shorter than a checkpoint,
has been changed after the server vouched for it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from alko_desk.models.audit import ChainReport
from alko_desk.models.checkpoints import AuditCheckpoint

DOMAIN = "alko-desk-audit-checkpoint/v1"


def message(scope: str, seq: int, head_hash: str, time: datetime) -> bytes:
    stamp = time.astimezone(UTC).isoformat(timespec="milliseconds")
    return f"{DOMAIN}\x1f{scope}\x1f{seq}\x1f{head_hash}\x1f{stamp}".encode()


def sign(
    key: ed25519.Ed25519PrivateKey, scope: str, seq: int, head_hash: str, time: datetime
) -> AuditCheckpoint:
    time = time.astimezone(UTC).replace(microsecond=time.microsecond // 1000 * 1000)
    signature = key.sign(message(scope, seq, head_hash, time))
    return AuditCheckpoint(scope, seq, head_hash, time, base64.b64encode(signature).decode())


def signature_valid(public_key: str, checkpoint: AuditCheckpoint) -> bool:
    try:
        key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        key.verify(
            base64.b64decode(checkpoint.signature),
            message(checkpoint.scope, checkpoint.seq, checkpoint.head_hash, checkpoint.time),
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def check(
    chain: ChainReport,
    checkpoints: Iterable[AuditCheckpoint],
    public_key: str,
    scope: str,
    hash_at: Callable[[int], str | None],
) -> ChainReport:
    """`chain` (the hash chain's own verification) held against every checkpoint known.

    Checkpoints are checked oldest first, so that the first broken one bounds where the
    change is: after the last checkpoint that still holds.
    """
    if not chain.ok:
        return chain
    head = chain.head_seq
    good_until = 0
    for cp in sorted(checkpoints, key=lambda c: c.seq):
        if cp.scope != scope or not signature_valid(public_key, cp):
            return ChainReport(
                False,
                chain.checked,
                head,
                cp.seq,
                f"the checkpoint at entry {cp.seq} does not carry the server's signature",
            )
        if cp.seq > head:
            return ChainReport(
                False,
                chain.checked,
                head,
                head + 1,
                f"entries {head + 1} to {cp.seq} were removed (the server signed entry {cp.seq} "
                f"at {cp.time:%Y-%m-%d %H:%M} UTC)",
            )
        if hash_at(cp.seq) != cp.head_hash:
            return ChainReport(
                False,
                chain.checked,
                head,
                good_until + 1,
                f"an entry between {good_until + 1} and {cp.seq} was rewritten, inserted or "
                "removed after the server signed it",
            )
        good_until = cp.seq
    return chain
