"""ID documents at the desk: the client's documents, capturing them, where they are stored."""

from __future__ import annotations

from typing import Any


def documents_of(services: Any):
    """The session's DocumentService, or None.

    `SessionServices.documents` in process; a remote desk's optional services arrive as
    generic proxies in `extra` (remote/desk.py keys only the non-optional ones by class).
    """
    found = getattr(services, "documents", None)
    if found is None:
        found = (getattr(services, "extra", None) or {}).get("documents")
    return found
