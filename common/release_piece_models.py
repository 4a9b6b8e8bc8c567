"""Pieces of a catalog release that a child node is still downloading."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from common.clock import utcnow
from common.db import Base
from common.models import UTCDateTime


class ReleasePiece(Base):
    """One verified piece of a release's canonical body, kept until the release applies.

    A piece belongs to one download: the release number, its whole-content
    hash and the piece size together fix the bytes at each index.
    """

    __tablename__ = "catalog_release_piece"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    piece_index: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    piece_size: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    piece_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
