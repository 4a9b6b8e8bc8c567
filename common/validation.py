"""Field checks shared by the API schemas."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import ValidationError
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

# Mainland mobile numbers, or a landline with its area code (0596 is Zhangzhou).
PHONE_PATTERN = re.compile(r"(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})")


def validate_id_number(value: str) -> None:
    """Check a resident ID number (GB 11643): format, birth date and check digit.

    The region part is not checked against the year of birth, as
    ``stdnum.cn.ric.validate`` does: that check rejects real residents born
    before their county's code was created (350623 漳浦县 dates from 1985),
    who are exactly the elderly applicants of many matters.
    """
    number = ric.compact(value)
    if len(number) != 18 or not number[:17].isdigit() or not number.isascii():
        raise ValidationError(
            "invalid resident ID number: use 18 characters, 17 digits and a "
            "final digit or X"
        )
    if number[-1] != ric.calc_check_digit(number):
        raise ValidationError(
            "invalid resident ID number: the check digit does not match; "
            "check every digit against the ID card"
        )
    try:
        born = ric.get_birth_date(number)
    except StdnumError:
        raise ValidationError(
            "invalid resident ID number: digits 7 to 14 are not a valid birth date"
        ) from None
    if born > dt.date.today():
        raise ValidationError(
            "invalid resident ID number: the birth date is in the future"
        )


def validate_phone(value: str) -> None:
    if not PHONE_PATTERN.fullmatch(value):
        raise ValidationError(
            "invalid phone number: use 11 digits for a mobile (13800000000) "
            "or an area code and number for a landline (0596-2345678)"
        )


def normalize_id_number(value: str) -> str:
    """Return an ID number in its stored form: ASCII digits and an upper-case X."""
    return ric.compact(value).upper()


def validate_person_name(value: str) -> None:
    """Check an applicant's name: printable text, not only spaces."""
    if not value.strip():
        raise ValidationError("invalid name: it is empty or only spaces")
    if not value.isprintable() or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValidationError(
            "invalid name: it contains control or invisible characters"
        )
