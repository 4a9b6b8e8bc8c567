"""Authoring at the city: import the catalog files and publish a release."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from common.catalog import content_hash, current_release_number
from common.clock import utcnow
from common.context import NodeContext
from common.divisions import Divisions, Tier
from common.errors import Forbidden, InvalidInput
from common.models import Release
from common.schemas.catalog import CatalogContentSchema
from sync.releases import store_release

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).parent / "data" / "catalog"
STARTER = DATA_DIR / "starter.json"
DELEGATIONS = DATA_DIR / "delegations.json"
POLICIES = DATA_DIR / "policies.json"


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", {"file": str(path)}) from exc


def load_catalog(
    divisions: Divisions,
    matters_path: Path = STARTER,
    delegations_path: Path = DELEGATIONS,
    policies_path: Path = POLICIES,
) -> dict[str, Any]:
    """Read and check the matter, delegation and policy files; return release content.

    Raises ``InvalidInput`` listing every problem, by matter index and field.
    """
    raw = {
        "matters": read_json(matters_path),
        "delegations": read_json(delegations_path),
        "policies": read_json(policies_path),
    }
    try:
        content = CatalogContentSchema().load(raw)
    except ValidationError as exc:
        raise InvalidInput(
            "the catalog files have invalid entries",
            dotted_messages(exc.normalized_messages()),
        ) from exc
    check_consistency(divisions, content)
    content["matters"].sort(key=lambda m: m["code"])
    content["delegations"].sort(key=lambda d: (d["matter_code"], d["region"]))
    return content


def dotted_messages(messages: dict[Any, Any], prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested messages to ``{"matters.3.kind": [...]}``."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(dotted_messages(value, path + "."))
        else:
            flat[path] = list(value)
    return flat


def check_consistency(divisions: Divisions, content: dict[str, Any]) -> None:
    """Check what one record alone cannot show: unique codes, valid delegations."""
    problems: dict[str, list[str]] = {}
    tiers: dict[str, str] = {}
    for index, matter in enumerate(content["matters"]):
        if matter["code"] in tiers:
            problems[f"matters.{index}.code"] = [
                f"duplicate matter code {matter['code']}"
            ]
        else:
            tiers[matter["code"]] = matter["handling_tier"]
    for index, delegation in enumerate(content["delegations"]):
        for field, reason in delegation_problems(divisions, delegation, tiers).items():
            problems[f"delegations.{index}.{field}"] = [reason]
    if problems:
        raise InvalidInput("the catalog files are inconsistent", problems)


def delegation_problems(
    divisions: Divisions, delegation: dict[str, Any], tiers: dict[str, str]
) -> dict[str, str]:
    """Return the problems of one delegation, by field."""
    code, region = delegation["matter_code"], delegation["region"]
    if code not in tiers:
        return {"matter_code": f"delegation names unknown matter {code}"}
    if region not in divisions:
        return {"region": f"region {region} is not a Zhangzhou division code"}
    default, target = Tier(tiers[code]), Tier(delegation["handled_by_tier"])
    if target.rank <= default.rank:
        return {
            "handled_by_tier": f"matter {code} is handled at {default.value} tier; "
            f"a delegation must move it lower, not to {target.value}"
        }
    region_tier = divisions.get(region).tier
    if region_tier.rank > target.rank:
        return {
            "region": f"region {region} is a {region_tier.value}, "
            f"so it holds no {target.value} center"
        }
    return {}


def publish(
    context: NodeContext, session: Session, content: dict[str, Any]
) -> Release | None:
    """Publish ``content`` as the next release in the caller's transaction.

    Returns None, publishing nothing, when the content equals the current
    release. Only the city authors releases.
    """
    if not context.is_hub:
        raise Forbidden(
            f"only the city node publishes catalog releases; node {context.code} applies them"
        )
    digest = content_hash(content)
    current = current_release_number(session)
    if current is not None and session.get(Release, current).content_hash == digest:
        logger.info(
            "Node %s: catalog unchanged since release %d", context.code, current
        )
        return None
    number = (current or 0) + 1
    wire = {
        "number": number,
        "content_hash": digest,
        "published_at": utcnow().isoformat(),
        "content": content,
    }
    store_release(context, session, wire)
    logger.info(
        "Node %s: published catalog release %d with %d matters",
        context.code,
        number,
        len(content["matters"]),
    )
    return session.get(Release, number)
