"""Handlers that act on events newly held at a node, own or received.

A handler runs inside the transaction that stores the event, so its effect
and the event commit together or not at all. It is called once per event
and node, because an event is stored only once per (origin, seq).
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
HANDLER_MODULES = ("node.cases.handlers", "hub.projection")

_handlers: dict[str, list[EventHandler]] = defaultdict(list)
_loaded = False


def on(kind: str) -> Callable[[EventHandler], EventHandler]:
    """Register a handler for events of ``kind``."""

    def register(handler: EventHandler) -> EventHandler:
        _handlers[kind].append(handler)
        return handler

    return register


def dispatch(context: NodeContext, session: Session, event: dict[str, Any]) -> None:
    global _loaded
    if not _loaded:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        _loaded = True
    for handler in _handlers.get(event["kind"], ()):
        handler(context, session, event)
