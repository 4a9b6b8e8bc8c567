"""Rate limits of the anonymous requests: the rating, the kiosk and the hotline web form.

An applicant proves a case is theirs only with the last 4 digits of their
phone, so without limits anyone with a case number could try all 10,000
endings. Each rating request counts against its case and against
the client address in fixed windows, and 5 wrong phone checks lock the
case's rating for 15 minutes. The queue kiosk counts tickets per client
address, so that one client cannot fill the queue, and the hotline's public
web form does the same, so that one client cannot flood the routed nodes. Counters live in the
node's Redis and expire by themselves, so losing Redis only resets them.
"""

from __future__ import annotations

import logging

from redis import Redis

from common.context import NodeContext
from common.errors import TooManyRequests

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 600
# NOTE: estimates, not measured. An applicant rates a case once, so 10 tries
# leave room for typing mistakes. 60 per address is about one rating every
# 10 seconds from one window device. Behind a reverse proxy every client
# shares the proxy's address unless the proxy passes the client's.
MAX_TRIES_PER_CASE = 10
MAX_TRIES_PER_ADDRESS = 60
MAX_WRONG_PHONE_CHECKS = 5
LOCK_SECONDS = 900
# NOTE: an estimate. The city center's 475,000 cases a year are about 40
# tickets in 10 minutes on average, so 120 leaves room for a peak at one kiosk.
MAX_TICKETS_PER_ADDRESS = 120
# NOTE: an estimate. A caller files one web ticket at a time, so 10 in 10
# minutes leaves room for a household or an office sharing one address.
MAX_WEB_HOTLINE_TICKETS_PER_ADDRESS = 10


def _key(context: NodeContext, *parts: str) -> str:
    return ":".join(("limit", context.code, *parts))


def _count(redis: Redis, key: str, seconds: int) -> int:
    """Add 1 to a counter that expires ``seconds`` after its first count."""
    # SET NX starts the window and INCR keeps its expiry. This works on any
    # Redis version, whereas EXPIRE NX needs Redis 7.
    _, count = redis.pipeline().set(key, 0, ex=seconds, nx=True).incr(key).execute()
    return int(count)


def _check_limit(context: NodeContext, key: str, limit: int, subject: str) -> None:
    """Count one request at ``key`` and raise ``TooManyRequests`` once ``limit`` is passed."""
    count = _count(context.redis, key, WINDOW_SECONDS)
    if count <= limit:
        return
    retry_after = max(context.redis.ttl(key), 1)
    logger.warning("Node %s: rate limit passed for %s (%s)", context.code, subject, key)
    raise TooManyRequests(
        f"too many requests for {subject}: at most {limit} in "
        f"{WINDOW_SECONDS // 60} minutes; try again in {retry_after} seconds",
        retry_after,
    )


def check_rating_allowed(context: NodeContext, case_id: str, address: str) -> None:
    """Count one rating request and raise ``TooManyRequests`` if the case is locked or over a limit."""
    locked_for = context.redis.ttl(_key(context, "rating-lock", case_id))
    if locked_for > 0:
        raise TooManyRequests(
            f"the rating of case {case_id} is locked for {locked_for} more seconds "
            f"after {MAX_WRONG_PHONE_CHECKS} wrong phone checks; try again later",
            locked_for,
            {"case_id": case_id},
        )
    case_key = _key(context, "rating-case", case_id)
    _check_limit(context, case_key, MAX_TRIES_PER_CASE, f"case {case_id}")
    address_key = _key(context, "rating-address", address)
    _check_limit(context, address_key, MAX_TRIES_PER_ADDRESS, f"address {address}")


def record_wrong_phone(context: NodeContext, case_id: str) -> None:
    """Count a wrong phone check. Reaching ``MAX_WRONG_PHONE_CHECKS`` locks the case and raises ``TooManyRequests``."""
    key = _key(context, "rating-wrong", case_id)
    count = _count(context.redis, key, LOCK_SECONDS)
    if count < MAX_WRONG_PHONE_CHECKS:
        return
    lock = _key(context, "rating-lock", case_id)
    context.redis.pipeline().set(lock, 1, ex=LOCK_SECONDS).delete(key).execute()
    logger.warning(
        "Node %s: rating of case %s locked after %d wrong phone checks",
        context.code,
        case_id,
        count,
    )
    raise TooManyRequests(
        f"the rating of case {case_id} is locked for {LOCK_SECONDS // 60} minutes "
        f"after {MAX_WRONG_PHONE_CHECKS} wrong phone checks",
        LOCK_SECONDS,
        {"case_id": case_id},
    )


def check_kiosk_allowed(context: NodeContext, address: str) -> None:
    """Count one queue ticket and raise ``TooManyRequests`` over the address's limit."""
    key = _key(context, "kiosk-address", address)
    _check_limit(context, key, MAX_TICKETS_PER_ADDRESS, f"address {address}")


def check_web_hotline_allowed(context: NodeContext, address: str) -> None:
    """Count one web hotline ticket and raise ``TooManyRequests`` over the address's limit."""
    key = _key(context, "hotline-web-address", address)
    _check_limit(
        context, key, MAX_WEB_HOTLINE_TICKETS_PER_ADDRESS, f"address {address}"
    )
