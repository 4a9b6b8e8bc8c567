"""Handlers that act on events newly held at a node, own or received.

A handler runs inside the transaction that stores the event, so its effect
and the event commit together or not at all. It is called once per event
and node, because an event is stored only once per (origin, seq), except
when an administrator replays a quarantined event (see ``sync.quarantine``).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from common.context import NodeContext

EventHandler = Callable[[NodeContext, Session, dict[str, Any]], None]

# Modules whose import registers handlers.
HANDLER_MODULES = (
    "node.cases.handlers",
    "hub.projection",
    "hub.rollup_handlers",
    "hub.reconciliation",
    "node.hotline_routing",
)

_handlers: dict[str, list[EventHandler]] = defaultdict(list)
_loaded = False


class Transient(Exception):
    """Raised by a handler that cannot act on an event yet but may later.

    For example a handler that needs a catalog release or a record that has
    not arrived here yet. A node applying a child's batch keeps such an
    event in quarantine, and a scheduled job runs its handlers again. Any
    other exception quarantines the event until an administrator acts.
    """


def on(kind: str) -> Callable[[EventHandler], EventHandler]:
    """Register a handler for events of ``kind``."""

    def register(handler: EventHandler) -> EventHandler:
        _handlers[kind].append(handler)
        return handler

    return register


def off(kind: str, handler: EventHandler) -> None:
    """Unregister a handler that ``on`` registered for ``kind``."""
    _handlers[kind].remove(handler)


def handlers_for(kind: str) -> tuple[EventHandler, ...]:
    """Return the handlers registered for ``kind``, importing the handler modules once."""
    global _loaded
    if not _loaded:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        _loaded = True
    return tuple(_handlers.get(kind, ()))


def dispatch(context: NodeContext, session: Session, event: dict[str, Any]) -> None:
    for handler in handlers_for(event["kind"]):
        handler(context, session, event)
