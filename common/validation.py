"""Field checks shared by the API schemas."""

from __future__ import annotations

import re

from marshmallow import ValidationError
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

# Mainland mobile numbers, or a landline with its area code (0596 is Zhangzhou).
PHONE_PATTERN = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def validate_id_number(value: str) -> None:
    """Check a resident ID number (GB 11643): format, birth date and check digit."""
    try:
        ric.validate(value)
    except StdnumError as exc:
        raise ValidationError(f"invalid resident ID number: {exc}") from None


def validate_phone(value: str) -> None:
    if not PHONE_PATTERN.match(value):
        raise ValidationError(
            "invalid phone number: use 11 digits for a mobile (13800000000) "
            "or an area code and number for a landline (0596-2345678)"
        )
