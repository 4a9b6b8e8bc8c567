"""Integration: ordering, idempotence and recovery of the sync streams."""

from __future__ import annotations

from sqlalchemy import func, select

from common.models import Event, OriginState
from hub.catalog import load_catalog, publish
from sync.jobs import push_up
from sync.push import collect_batch, collect_heads
from sync.releases import releases_after
from sync.transport import ParentClient
from tests.conftest import application
from tests.federation import Federation

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"


def start_branch(federation: Federation) -> None:
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)


def events_held(federation: Federation, code: str, origin: str) -> int:
    with federation.nodes[code].context.db.transaction() as session:
        query = select(func.count()).select_from(Event).where(Event.origin == origin)
        return session.scalar(query)


def acked(federation: Federation, code: str) -> int:
    with federation.nodes[code].context.db.transaction() as session:
        return session.get(OriginState, code).acked_seq


def publish_second_release(federation: Federation) -> None:
    city = federation.nodes[CITY].context
    content = load_catalog(city.divisions)
    content["matters"][0]["name"] += "（修订）"
    with city.db.transaction() as session:
        publish(city, session, content)


def test_releases_arrive_in_order(federation: Federation) -> None:
    start_branch(federation)
    publish_second_release(federation)
    federation.sync(rounds=3)
    release = federation.nodes[VILLAGE].get("/api/catalog").json()
    assert release["number"] == 2


def test_older_release_kept_at_village(federation: Federation) -> None:
    start_branch(federation)
    publish_second_release(federation)
    federation.sync(rounds=3)
    with federation.nodes[VILLAGE].context.db.transaction() as session:
        numbers = [r.number for r in releases_after(session, 0, limit=10)]
    assert numbers == [1, 2]


def test_interrupted_push_resent_once(federation: Federation) -> None:
    start_branch(federation)
    village = federation.nodes[VILLAGE]
    village.post("/api/applications", json=application())
    federation.redis_client_flush()

    # Send the batch but lose the acknowledgement, as a worker killed
    # between the send and the cursor update would.
    context = village.context
    with context.db.transaction() as session:
        batch = collect_batch(context, session)
        heads = collect_heads(context, session)
    client = ParentClient(context)
    client.push_events({"sender": VILLAGE, "events": batch, "heads": heads})
    client.close()
    assert acked(federation, VILLAGE) == 0

    push_up(VILLAGE)
    assert acked(federation, VILLAGE) == 1
    assert events_held(federation, TOWNSHIP, VILLAGE) == 1


def test_flushed_redis_loses_nothing(federation: Federation) -> None:
    start_branch(federation)
    village = federation.nodes[VILLAGE]
    case_id = village.post("/api/applications", json=application()).json()["id"]
    federation.redis_client_flush()  # the queued push job is gone

    federation.sync()
    assert federation.nodes[COUNTY].get(f"/api/cases/{case_id}").status_code == 200


def test_hub_holds_each_event_once(federation: Federation) -> None:
    start_branch(federation)
    village = federation.nodes[VILLAGE]
    for _ in range(3):
        village.post("/api/applications", json=application())
    federation.sync()
    for _ in range(2):
        push_up(VILLAGE)  # pushes with nothing new change nothing
    assert events_held(federation, CITY, VILLAGE) == 3


def personal_data_held(federation: Federation, code: str) -> int:
    with federation.nodes[code].context.db.transaction() as session:
        query = (
            select(func.count()).select_from(Event).where(Event.personal.is_not(None))
        )
        return session.scalar(query)


def test_personal_data_stops_at_handler(federation: Federation) -> None:
    start_branch(federation)
    village = federation.nodes[VILLAGE]
    case_id = village.post("/api/applications", json=application("ZZ-MZ-001")).json()[
        "id"
    ]
    federation.sync()
    case = federation.nodes[COUNTY].get(f"/api/cases/{case_id}").json()
    assert case["applicant_name"] == "张三"
    assert personal_data_held(federation, CITY) == 0
    assert personal_data_held(federation, TOWNSHIP) == 0


def test_parent_down_then_back_loses_nothing(federation: Federation) -> None:
    start_branch(federation)
    village = federation.nodes[VILLAGE]
    federation.stop_node(TOWNSHIP)
    case_id = village.post("/api/applications", json=application()).json()["id"]
    federation.drain([VILLAGE])  # the push fails: the township is down

    status = village.get("/api/sync").json()
    assert status["unacknowledged"][0]["unacknowledged"] == 1
    assert status["links"][0]["last_error"] is not None

    federation.restart_node(TOWNSHIP)
    federation.sync()
    assert federation.nodes[COUNTY].get(f"/api/cases/{case_id}").status_code == 200
