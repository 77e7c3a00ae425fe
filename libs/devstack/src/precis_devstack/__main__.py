"""Command line of the local suite: ``python -m precis_devstack {up,down,status,demo}``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from precis_client import PrecisError
from precis_devstack.cdnow import CdnowError
from precis_devstack.demo import run_demo
from precis_devstack.state import StateLayout
from precis_devstack.suite import (
    DEFAULT_PORTS,
    DevstackError,
    start_suite,
    stop_suite,
    suite_status,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m precis_devstack",
        description=(
            "Run the Precis suite (ingestion, profile, consent, segmentation, recommendation, "
            "measurement, gateway) on this machine."
        ),
    )
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "demo"],
        help="up: start and wait until ready; down: stop; status: show; "
        "demo: up, then load the CDNOW log and MovieLens 100k and show profiles, audiences "
        "and recommendations",
    )
    parser.add_argument(
        "--state-dir", default=".precis", help="logs, pids, databases, secrets (default .precis)"
    )
    parser.add_argument("--gateway-port", type=int, default=DEFAULT_PORTS["gateway"])
    parser.add_argument("--ingestion-port", type=int, default=DEFAULT_PORTS["ingestion"])
    parser.add_argument("--profile-port", type=int, default=DEFAULT_PORTS["profile"])
    parser.add_argument("--consent-port", type=int, default=DEFAULT_PORTS["consent"])
    parser.add_argument("--segmentation-port", type=int, default=DEFAULT_PORTS["segmentation"])
    parser.add_argument("--recommendation-port", type=int, default=DEFAULT_PORTS["recommendation"])
    parser.add_argument("--measurement-port", type=int, default=DEFAULT_PORTS["measurement"])
    return parser


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ports = (args.gateway_port, args.ingestion_port, args.profile_port, args.consent_port)
    try:
        if args.command == "up":
            suite = start_suite(
                args.state_dir,
                *ports,
                segmentation_port=args.segmentation_port,
                recommendation_port=args.recommendation_port,
                measurement_port=args.measurement_port,
                output=_say,
            )
            layout = StateLayout.at(args.state_dir)
            _say(f"Precis is running: {suite.gateway_url} (API docs: {suite.gateway_url}/docs)")
            _say(f"API key in {layout.api_key_path} (header X-API-Key), logs in {layout.logs_dir}")
            _say("Stop it with: make down")
            return 0
        if args.command == "down":
            stopped = stop_suite(args.state_dir, output=_say)
            _say("stopped" if stopped else "nothing was running")
            return 0
        if args.command == "status":
            statuses = suite_status(args.state_dir)
            _say(f"{'process':<14} {'pid':>8} {'port':>6}  {'health':<28} log")
            for s in statuses:
                pid = str(s.pid) if s.pid is not None else "-"
                port = str(s.port) if s.port is not None else "-"
                health = s.health if s.running else "not running"
                _say(f"{s.name:<14} {pid:>8} {port:>6}  {health:<28} {s.log_path}")
            healthy = all(s.running and s.health in ("SERVING", "READY") for s in statuses)
            return 0 if healthy else 1
        return run_demo(
            args.state_dir,
            *ports,
            segmentation_port=args.segmentation_port,
            recommendation_port=args.recommendation_port,
            measurement_port=args.measurement_port,
            output=_say,
        )
    except (DevstackError, CdnowError, PrecisError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
