"""Consent check latency, uncached (a CheckConsent call to the consent service) and cached
(precis_common.consent_check.ConsentChecker, kept honest by the consent_changes feed), side by
side in one run against the real consent service (in process, SQLite, over loopback gRPC).

`python -m tests.bench.bench_consent [--subjects N] [--checks N] [--out DIR]` writes
consent.json into DIR (tests/bench by default) and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

from precis.common.v1 import privacy_pb2, types_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis.consent.v1 import consent_pb2_grpc
from precis_common.consent_check import ConsentChecker
from precis_common.identifiers import PiiHasher
from precis_consent.app import build, start
from precis_consent.settings import ConsentSettings

from .harness import REPO_ROOT, latency_summary, machine_facts

WS = (("x-precis-workspace", "bench"),)
PURPOSES = [pb.PURPOSE_MARKETING_EMAIL, pb.PURPOSE_PERSONALIZATION]


def subject(i: int) -> privacy_pb2.DataSubject:
    return privacy_pb2.DataSubject(
        identifiers=[
            types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=f"u{i}"),
            types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_EMAIL, value=f"c{i}@example.com"),
        ]
    )


def run(subjects: int, checks: int, state: Path) -> dict[str, Any]:
    settings = ConsentSettings(
        consent_grpc_port=0,
        state_dir=state,
        consent_privacy_targets={},
        consent_dsr_interval_seconds=0,
    )
    app = start(build(settings, configure_logs=False))
    channel = grpc.insecure_channel(f"127.0.0.1:{app.port}")
    stub = consent_pb2_grpc.ConsentServiceStub(channel)
    try:
        started = time.perf_counter()
        for i in range(subjects):
            stub.RecordConsent(
                pb.RecordConsentRequest(
                    request_id=f"r{i}",
                    subject=subject(i),
                    choices=[
                        pb.PurposeChoice(
                            purpose=pb.PURPOSE_MARKETING_EMAIL,
                            status=pb.CONSENT_STATUS_GRANTED if i % 3 else pb.CONSENT_STATUS_DENIED,
                        )
                    ],
                    policy_version="2026-05",
                    source="bench",
                ),
                metadata=WS,
            )
        record_seconds = time.perf_counter() - started
        rng = random.Random(7)
        picks = [rng.randrange(subjects) for _ in range(checks)]

        uncached = []
        for i in picks:
            t = time.perf_counter()
            stub.CheckConsent(
                pb.CheckConsentRequest(subject=subject(i), purposes=PURPOSES), metadata=WS
            )
            uncached.append(time.perf_counter() - t)

        hasher = PiiHasher(settings.pii_secret.get_secret_value())
        checker = ConsentChecker(channel, hasher)
        checker.poll()  # follow the feed: the cache is trusted from here on
        first, cached = [], []
        seen: set[int] = set()
        for i in picks:
            t = time.perf_counter()
            result = checker.check("bench", subject(i), PURPOSES)
            (cached if result.cached else first).append(time.perf_counter() - t)
            seen.add(i)
        return {
            "subjects": subjects,
            "checks": checks,
            "record_per_second": round(subjects / record_seconds, 1),
            "uncached": latency_summary(uncached),
            "cached_first_sight": latency_summary(first),
            "cached_hits": latency_summary(cached),
            "hit_ratio": round(checker.hits / max(1, checker.hits + checker.misses), 3),
        }
    finally:
        channel.close()
        app.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=2_000)
    parser.add_argument("--checks", type=int, default=5_000)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "bench")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        result = run(args.subjects, args.checks, Path(state))
    result["machine"] = machine_facts()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "consent.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    u, c = result["uncached"], result["cached_hits"]
    print(
        f"consent check, {result['subjects']:,} subjects: uncached p50 {u['p50_ms']} ms, "
        f"p99 {u['p99_ms']} ms; cached p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms "
        f"(hit ratio {result['hit_ratio']})"
    )


if __name__ == "__main__":
    main()
