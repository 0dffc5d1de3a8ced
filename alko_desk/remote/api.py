"""Which services and methods a desk may call: derived from the service classes, never listed
by hand, so that a service written later is reachable remotely without glue.

A service is an attribute of `SessionServices` (a dataclass field other than `session`
and `extra`, or an entry of `extra`). Its callable surface is every public method
defined on its class or a base below `SessionService`: not names starting with "_",
not properties, static or class methods, and nothing `object` or `SessionService` define.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from types import FunctionType
from typing import Any

from alko_desk.services.base import SessionService

NOT_SERVICES = frozenset({"session", "extra"})
# Arguments a desk passes in-process that cannot cross the wire: progress and
# cancellation callbacks. The remote proxy keeps them on the desk.
LOCAL_ONLY_ARGUMENTS = frozenset({"progress", "cancelled"})


@functools.cache
def public_methods(cls: type) -> frozenset[str]:
    names = set()
    for klass in cls.__mro__:
        if klass in (object, SessionService):
            continue
        for name, attr in vars(klass).items():
            callable_remotely = not getattr(attr, "between_services", False)
            if not name.startswith("_") and isinstance(attr, FunctionType) and callable_remotely:
                names.add(name)
    return frozenset(names)


def service_classes(services_type: type) -> dict[str, type]:
    """The service attributes a `SessionServices`-shaped dataclass declares, with their class."""
    hints = typing.get_type_hints(services_type)
    found = {}
    for f in dataclasses.fields(services_type):
        cls = _service_type(hints.get(f.name))
        if f.name not in NOT_SERVICES and cls is not None:
            found[f.name] = cls
    return found


def _service_type(hint: Any) -> type | None:
    """`VehicleService` from `VehicleService` or `VehicleService | None` (optional services)."""
    if isinstance(hint, type):
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 and isinstance(args[0], type) else None


def services_of(services: Any) -> dict[str, Any]:
    """The service objects of one `SessionServices` instance, by the name desks call them."""
    found = {
        f.name: getattr(services, f.name)
        for f in dataclasses.fields(services)
        if f.name not in NOT_SERVICES
    }
    for name, service in (getattr(services, "extra", None) or {}).items():
        if isinstance(name, str) and not name.startswith("_") and name not in found:
            found[name] = service
    return {name: svc for name, svc in found.items() if svc is not None}


def describe(services: Any) -> dict[str, list[str]]:
    """service name -> callable method names, as the server publishes them."""
    return {name: sorted(public_methods(type(svc))) for name, svc in services_of(services).items()}


def resolve(services: Any, service: str, method: str) -> Callable:
    """The bound method a call names, or LookupError when it is not on the allow-list."""
    if not isinstance(service, str) or not isinstance(method, str):
        raise LookupError("bad call")
    svc = services_of(services).get(service)
    if svc is None or method not in public_methods(type(svc)):
        raise LookupError(f"{service}.{method} is not a service method")
    return getattr(svc, method)


def signature_of(cls: type, method: str) -> inspect.Signature | None:
    try:
        return inspect.signature(getattr(cls, method))
    except (TypeError, ValueError, AttributeError):
        return None
