"""The one exception family of the platform, each carrying its HTTP status."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base error with an HTTP status, a stable error code and a message.

    ``details`` holds machine-readable context, for example the invalid
    fields of a request or the sequence number that a receiver expects.
    """

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
            }
        }


class InvalidInput(AppError):
    status = 400
    code = "invalid_input"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class TooManyRequests(AppError):
    """A request over a rate limit; ``retry_after`` is in seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(
        self, message: str, retry_after: int, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, {**(details or {}), "retry_after": retry_after})
        self.retry_after = retry_after


class SequenceGap(Conflict):
    """A batch skips events of one origin that the receiver does not hold."""

    code = "sequence_gap"

    def __init__(self, origin: str, expected: int, received: int) -> None:
        super().__init__(
            f"events of origin {origin} must continue at sequence {expected}, "
            f"but the batch starts at {received}; resend from {expected}",
            {"origin": origin, "expected": expected, "received": received},
        )


class ReleaseRejected(Conflict):
    code = "release_rejected"


class UnknownDivision(AppError):
    """A node code that is not in Zhangzhou's division list."""

    status = 400
    code = "unknown_division"

    def __init__(self, code: str) -> None:
        super().__init__(
            f"{code!r} is not a Zhangzhou division code; use a code from "
            "common/data/zhangzhou (for example 350623 or 350623100207)",
            {"code": code},
        )


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
