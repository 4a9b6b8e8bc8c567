"""RQ jobs of a node's sync. Each takes a node code and opens its own context.

Jobs let exceptions propagate so that RQ records the failure; the next
scheduled round retries, because every step starts again from the cursors
stored in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from marshmallow import ValidationError
from redis.exceptions import RedisError

from common.catalog import current_release_number
from common.context import NodeContext, get_context
from common.errors import SequenceGap
from common.models import Link
from common.schemas.sync import AckSchema, FeedPageSchema
from sync.feed import apply_feed_page, feed_cursors
from sync.pieces import pull_next_release
from sync.push import collect_batch, collect_heads, record_ack
from sync.quarantine import enqueue_retry
from sync.state import touch_link
from sync.transport import ParentClient, SyncRefused

logger = logging.getLogger(__name__)

# Upper bound on batches one push job sends, so that one job never runs for
# long; what is left is picked up by the job that the last round enqueues.
MAX_ROUNDS = 50
# Seconds a pending-job marker lives, in case a worker dies before running it.
MARKER_TTL = 120


def enqueue_once(context: NodeContext, job: Callable[[str], object]) -> bool:
    """Enqueue ``job`` for this node unless the same job is already waiting.

    A marker key in Redis stands for the waiting job; the job deletes it when
    it starts, so a change made while it runs gets a job of its own.
    """
    marker = _marker(context.code, job)
    if not context.redis.set(marker, 1, nx=True, ex=MARKER_TTL):
        return False
    context.queue.enqueue(
        job, context.code, job_timeout=300, result_ttl=60, failure_ttl=3600
    )
    return True


def _marker(code: str, job: Callable[[str], object]) -> str:
    return f"servicecenter:{code}:pending:{job.__name__}"


def clear_markers(context: NodeContext) -> None:
    """Delete this node's pending-job markers, as a starting worker does."""
    keys = list(context.redis.scan_iter(f"servicecenter:{context.code}:pending:*"))
    if keys:
        context.redis.delete(*keys)


def start_job(code: str, job: Callable[[str], object]) -> NodeContext:
    """Return the node of a job that starts now, clearing its pending-job marker."""
    context = get_context(code)
    context.redis.delete(_marker(code, job))
    context.follow_clock()
    return context


def push_up(code: str) -> int:
    """Send every unacknowledged event of this node's subtree to the parent.

    Returns the number of events sent.
    """
    context = start_job(code, push_up)
    if context.parent_code is None:
        return 0
    client = ParentClient(context)
    try:
        return _push_rounds(context, client)
    finally:
        client.close()


def _push_rounds(context: NodeContext, client: ParentClient) -> int:
    sent = 0
    for _ in range(MAX_ROUNDS):
        with context.db.transaction() as session:
            batch = collect_batch(context, session)
            heads = collect_heads(context, session)
        if not batch and sent:
            return sent
        # With nothing to send, the first round still reports the heads:
        # that is the node's heartbeat, which keeps last contact current.
        held = _send(context, client, batch, heads)
        if not batch:
            return sent
        with context.db.transaction() as session:
            moved = record_ack(session, held)
            touch_link(session, context.parent_code, "parent")
        if not moved:
            # The parent acknowledged nothing new: resending would loop.
            logger.error(
                "Node %s: parent acknowledged none of %d events (held %s); push stopped",
                context.code,
                len(batch),
                held,
            )
            return sent
        sent += len(batch)
    enqueue_once(context, push_up)
    return sent


def _send(
    context: NodeContext, client: ParentClient, batch: list, heads: dict
) -> dict[str, int]:
    """Send one batch; return the parent's held sequences, rewinding on a gap."""
    body = {"sender": context.code, "events": batch, "heads": heads}
    try:
        answer = client.push_events(body)
    except SyncRefused as exc:
        details = exc.error.get("details") or {}
        if exc.error.get("code") == SequenceGap.code and "origin" in details:
            logger.warning(
                "Node %s: parent expects origin %s from sequence %s; resending from there",
                context.code,
                details["origin"],
                details["expected"],
            )
            return {details["origin"]: int(details["expected"]) - 1}
        record_error(context, exc)
        raise
    except Exception as exc:
        record_error(context, exc)
        raise
    try:
        held = AckSchema().load(answer)["held"]
    except ValidationError as exc:
        raise SyncRefused(
            200, {"code": "bad_ack", "message": str(exc.messages)}
        ) from exc
    log = logger.info if batch else logger.debug
    log("Node %s: pushed %d events, parent holds %s", context.code, len(batch), held)
    return held


def record_error(context: NodeContext, exc: Exception) -> None:
    """Store the error on the parent link; log it when it differs from the last one.

    A parent that stays down fails every scheduled round with the same
    error, which the link's ``last_error_at`` keeps without filling the log.
    """
    with context.db.transaction() as session:
        link = session.get(Link, context.parent_code)
        repeated = (
            link is not None
            and link.last_error == str(exc)[:2000]
            and (link.last_contact is None or link.last_contact < link.last_error_at)
        )
        touch_link(session, context.parent_code, "parent", error=str(exc))
    log = logger.debug if repeated else logger.error
    log("Node %s: sync with parent failed: %s", context.code, exc)


def pull_feed(code: str) -> int:
    """Fetch and apply the parent's feed for this node; return events stored."""
    context = start_job(code, pull_feed)
    if context.parent_code is None:
        return 0
    client = ParentClient(context)
    limit = context.config.batch_size
    stored = 0
    try:
        for _ in range(MAX_ROUNDS):
            with context.db.transaction() as session:
                cursors = feed_cursors(session)
            try:
                events = client.fetch_feed(cursors, limit)
                events = FeedPageSchema().load({"events": events})["events"]
            except Exception as exc:
                record_error(context, exc)
                raise
            with context.db.transaction() as session:
                stored += apply_feed_page(context, session, events)
                touch_link(session, context.parent_code, "parent")
            if len(events) < limit:
                break
    finally:
        client.close()
    if stored:
        logger.info("Node %s: stored %d events from the parent's feed", code, stored)
    return stored


def pull_catalog(code: str) -> int | None:
    """Download the releases this node lacks, in pieces, and store each whole.

    Each release is stored in its own transaction. Returns the release
    number held afterwards.
    """
    context = start_job(code, pull_catalog)
    if context.parent_code is None:
        with context.db.transaction() as session:
            return current_release_number(session)
    client = ParentClient(context)
    try:
        while True:
            try:
                stored = pull_next_release(context, client)
            except Exception as exc:
                record_error(context, exc)
                raise
            if stored is None:
                with context.db.transaction() as session:
                    return current_release_number(session)
            # Events held for a release that had not arrived can apply now.
            enqueue_retry(context)
    finally:
        client.close()


def sync_round(code: str) -> None:
    """Enqueue one scheduled round: key revocations, catalog, calendars, push, feed.

    The push runs every round, whatever Redis remembers. It sends what the
    outbox records as unsent, which reconciles the outbox with a flushed or
    restarted Redis. With nothing to send, it sends the heartbeat that keeps
    this node's last contact current up the tree.
    """
    context = start_job(code, sync_round)
    enqueue_retry(context)
    if context.parent_code is None:
        return
    from sync.calendars import pull_calendars  # that module imports this one
    from sync.revocation import exchange_revocations

    # Revocations go first, so the parent has a revoked key's cutoff
    # before the push sends events signed with the key.
    jobs = (exchange_revocations, pull_catalog, pull_calendars, push_up, pull_feed)
    for job in jobs:
        enqueue_once(context, job)


def notify(context: NodeContext, job: Callable[[str], object]) -> None:
    """Enqueue ``job`` after a commit, without failing the request if Redis is down.

    The change is already in the database, and the next scheduled push sends it
    once Redis is back.
    """
    try:
        enqueue_once(context, job)
    except RedisError as exc:
        logger.warning(
            "Node %s: cannot enqueue %s, Redis unavailable: %s",
            context.code,
            job.__name__,
            exc,
        )
