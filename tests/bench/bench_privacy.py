"""Data-subject requests across every service holding personal data (ingestion, profile and
consent, in process, each on its embedded SQLite file, over loopback gRPC): how long the export
and the erasure of a subject with 1,000 events take, from the request to COMPLETED, how big the
export is per service, and what the erasure deleted, checked afterwards to have really gone.

`python -m tests.bench.bench_privacy [--subjects N] [--events-per-subject N]
[--background-events N] [--out DIR]` writes privacy.json into DIR (tests/bench by default),
refreshes DIR/RESULTS.md when DIR/results.json is there, and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import orjson
from sqlalchemy import func, select

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc
from precis.common.v1 import types_pb2 as T
from precis.consent.v1 import consent_pb2 as pb
from precis.consent.v1 import consent_pb2_grpc
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis_common.grpc_client import principal_metadata, workspace_metadata
from precis_consent.app import ConsentApp
from precis_consent.app import build as build_consent
from precis_consent.app import start as start_consent
from precis_consent.settings import ConsentSettings
from precis_ingestion.app import IngestionApp
from precis_ingestion.app import build as build_ingestion
from precis_ingestion.app import start as start_ingestion
from precis_ingestion.settings import IngestionSettings
from precis_ingestion.store import events as events_table
from precis_profile.app import ProfileApp
from precis_profile.app import build as build_profile
from precis_profile.app import start as start_profile
from precis_profile.settings import ProfileSettings

from .harness import REPO_ROOT, CpuMeter, free_port, latency_summary, machine_facts, percentile
from .report import render_markdown

WORKSPACE = "bench"
WS = workspace_metadata(WORKSPACE)
OFFICER = "key:0ff1cer0"  # the privacy officer's principal, as the gateway would send it
AS_OFFICER = (*WS, *principal_metadata(OFFICER))
COMPLETED = pb.DATA_SUBJECT_REQUEST_STATE_COMPLETED
SERVICES = ("consent", "ingestion", "profile")
# The consent service's worker advances open requests every DSR_INTERVAL seconds by itself, as
# in production (where the default is 1 s): a request waits up to one interval to be picked up,
# and that wait is part of every measured time.
DSR_INTERVAL = 0.1
POLL_INTERVAL = 0.01  # how often the requester reads the request's state: adds up to 10 ms
BATCH = 500
EVENTS_PER_BACKGROUND_PERSON = 10
Output = Callable[[str], None]


class BrokenErasure(RuntimeError):
    """An erasure completed but the subject, or someone else's data, is not as it must be."""


# The suite -------------------------------------------------------------------------------


@dataclass
class PrivacySuite:
    ingestion: IngestionApp
    profile: ProfileApp
    consent: ConsentApp
    channels: list[grpc.Channel]
    events: ingestion_pb2_grpc.IngestionServiceStub
    profiles: profile_pb2_grpc.ProfileServiceStub
    dsr: consent_pb2_grpc.ConsentServiceStub
    privacy: dict[str, privacy_pb2_grpc.PrivacyServiceStub]

    def stop(self) -> None:
        for channel in self.channels:
            channel.close()
        for app in (self.consent, self.profile, self.ingestion):
            app.stop(0)


@contextmanager
def running_services(state: Path, *, dsr_interval: float = DSR_INTERVAL) -> Iterator[PrivacySuite]:
    """Ingestion, profile (its events-feed consumer running) and consent (its data-subject
    request worker running every `dsr_interval` s), wired to each other as in production, on
    SQLite files in `state`. The retention job is off: it would delete nothing here, but its
    first run would land in the middle of the measurements."""
    consent_port = free_port()
    ingestion = start_ingestion(
        build_ingestion(
            IngestionSettings(
                ingestion_grpc_port=0,
                ingestion_consent_target=f"127.0.0.1:{consent_port}",
                state_dir=state,
            ),
            configure_logs=False,
        )
    )
    profile = start_profile(
        build_profile(
            ProfileSettings(
                profile_grpc_port=0,
                profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
                state_dir=state,
            ),
            configure_logs=False,
        )
    )
    consent = start_consent(
        build_consent(
            ConsentSettings(
                consent_grpc_port=consent_port,
                consent_privacy_targets={
                    "ingestion": f"127.0.0.1:{ingestion.port}",
                    "profile": f"127.0.0.1:{profile.port}",
                },
                consent_ingestion_target=f"127.0.0.1:{ingestion.port}",
                consent_dsr_interval_seconds=dsr_interval,
                consent_retention_interval_seconds=0,
                state_dir=state,
            ),
            configure_logs=False,
        )
    )
    channels = {
        name: grpc.insecure_channel(f"127.0.0.1:{app.port}")
        for name, app in (("ingestion", ingestion), ("profile", profile), ("consent", consent))
    }
    suite = PrivacySuite(
        ingestion,
        profile,
        consent,
        list(channels.values()),
        ingestion_pb2_grpc.IngestionServiceStub(channels["ingestion"]),
        profile_pb2_grpc.ProfileServiceStub(channels["profile"]),
        consent_pb2_grpc.ConsentServiceStub(channels["consent"]),
        {name: privacy_pb2_grpc.PrivacyServiceStub(ch) for name, ch in channels.items()},
    )
    try:
        yield suite
    finally:
        suite.stop()


# The population --------------------------------------------------------------------------


@dataclass
class Person:
    user_id: str
    anonymous_ids: list[str]
    email: str
    phone: str = ""
    events: list[ingestion_pb2.Event] = field(default_factory=list)

    def identifiers(self) -> list[T.Identifier]:
        ids = [T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value=self.user_id)]
        ids += [
            T.Identifier(type=T.IDENTIFIER_TYPE_ANONYMOUS_ID, value=a) for a in self.anonymous_ids
        ]
        ids.append(T.Identifier(type=T.IDENTIFIER_TYPE_EMAIL, value=self.email))
        if self.phone:
            ids.append(T.Identifier(type=T.IDENTIFIER_TYPE_PHONE, value=self.phone))
        return ids

    def subject(self) -> privacy_pb2.DataSubject:
        return privacy_pb2.DataSubject(identifiers=self.identifiers())


def _track(person: str, n: int, user_id: str, anonymous_id: str) -> ingestion_pb2.Event:
    return ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_TRACK,
        event="Product Viewed" if n % 5 else "Product Added",
        message_id=f"{person}-{n}",
        user_id=user_id,
        anonymous_id=anonymous_id,
        properties_json=orjson.dumps({"sku": f"sku-{n % 97}", "price": 5 + n % 40}),
        context_json=orjson.dumps({"channel": "web", "locale": "en-GB"}),
    )


def _identify(
    person: str, n: int, user_id: str, anonymous_id: str, email: str = "", phone: str = ""
) -> ingestion_pb2.Event:
    traits: dict[str, str] = {"first_name": "Alex"}
    if email:
        traits["email"] = email
    if phone:
        traits["phone"] = phone
    return ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_IDENTIFY,
        message_id=f"{person}-{n}",
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits_json=orjson.dumps(traits),
    )


def data_subject(i: int, events: int) -> Person:
    """Like test_dsr's subject: anonymous browsing on two devices (60 % and 20 % of the events),
    an identify on each (email and phone on the first), then logged-in events."""
    if events < 10:
        raise ValueError("a data subject needs at least 10 events")
    name = f"subject-{i}"
    person = Person(
        user_id=name,
        anonymous_ids=[f"anon-{name}-phone", f"anon-{name}-laptop"],
        email=f"Subject.{i}@Example.com",
        phone=f"+86 138 0013 {8000 + i:04d}",
    )
    first, second = person.anonymous_ids
    on_first, on_second = round(events * 0.6), round(events * 0.2)
    out = [_track(name, n, "", first) for n in range(on_first)]
    out += [_track(name, on_first + n, "", second) for n in range(on_second)]
    n = on_first + on_second
    out.append(_identify(name, n, name, first, email=person.email, phone=person.phone))
    out.append(_identify(name, n + 1, name, second))
    out += [_track(name, n + 2 + k, name, "") for k in range(events - n - 2)]
    person.events = out
    return person


def background_person(j: int, events: int) -> Person:
    """Someone else: a few anonymous events, an identify with an email, then logged-in ones."""
    name = f"shopper-{j}"
    person = Person(user_id=name, anonymous_ids=[f"anon-{name}"], email=f"shopper.{j}@example.com")
    anonymous = events // 3
    out = [_track(name, n, "", person.anonymous_ids[0]) for n in range(anonymous)]
    out.append(_identify(name, anonymous, name, person.anonymous_ids[0], email=person.email))
    out += [_track(name, anonymous + 1 + k, name, "") for k in range(events - anonymous - 1)]
    person.events = out
    return person


def background(total: int) -> list[Person]:
    people = max(1, total // EVENTS_PER_BACKGROUND_PERSON)
    base, extra = divmod(total, people)
    return [background_person(j, base + (1 if j < extra else 0)) for j in range(people)]


def interleaved(people: Sequence[Person], seed: int = 11) -> list[ingestion_pb2.Event]:
    """Every person's events in their own order, the streams shuffled into one another, so a
    subject's events are spread over the log as real traffic spreads them."""
    rng = random.Random(seed)
    keyed: list[tuple[float, ingestion_pb2.Event]] = []
    for person in people:
        points = sorted(rng.random() for _ in person.events)
        keyed += zip(points, person.events, strict=True)
    keyed.sort(key=lambda pair: pair[0])
    return [event for _, event in keyed]


# Loading ---------------------------------------------------------------------------------


def send(suite: PrivacySuite, events: Sequence[ingestion_pb2.Event]) -> None:
    for start in range(0, len(events), BATCH):
        response = suite.events.Batch(
            ingestion_pb2.BatchRequest(events=events[start : start + BATCH]), metadata=WS
        )
        refused = [r for r in response.results if r.status != ingestion_pb2.EVENT_STATUS_ACCEPTED]
        if refused:
            raise RuntimeError(f"ingestion refused {len(refused)} events, first: {refused[0]}")


def record_consent(suite: PrivacySuite, person: Person) -> None:
    suite.dsr.RecordConsent(
        pb.RecordConsentRequest(
            request_id=f"consent-{person.user_id}",
            subject=privacy_pb2.DataSubject(
                identifiers=[
                    T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value=person.user_id),
                    T.Identifier(type=T.IDENTIFIER_TYPE_EMAIL, value=person.email),
                ]
            ),
            choices=[
                pb.PurposeChoice(
                    purpose=pb.PURPOSE_MARKETING_EMAIL, status=pb.CONSENT_STATUS_GRANTED
                ),
                pb.PurposeChoice(
                    purpose=pb.PURPOSE_PERSONALIZATION, status=pb.CONSENT_STATUS_DENIED
                ),
            ],
            policy_version="2026-05",
            source="bench",
            channel=pb.CAPTURE_CHANNEL_WEB,
        ),
        metadata=WS,
    )


def ingested_events(suite: PrivacySuite) -> tuple[int, int]:
    """(events held by ingestion in the workspace, the last seq of its events feed)."""
    e = events_table.c
    with suite.ingestion.database.read() as session:
        count = session.execute(
            select(func.count()).select_from(events_table).where(e.workspace_id == WORKSPACE)
        ).scalar_one()
        last = session.execute(select(func.max(e.seq))).scalar_one()
    return int(count), int(last or 0)


def wait_until_applied(suite: PrivacySuite, *, timeout: float = 600.0) -> None:
    """Until the profile service's own consumer has applied the whole events feed."""
    _, last = ingested_events(suite)
    deadline = time.monotonic() + timeout
    consumer = suite.profile.consumer
    while consumer.position() < last:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"profile applied up to seq {consumer.position()} of {last} "
                f"(last error: {consumer.last_error})"
            )
        time.sleep(0.1)


def live_profiles(suite: PrivacySuite) -> int:
    return int(
        suite.profiles.ListProfiles(
            profile_pb2.ListProfilesRequest(page_size=1), metadata=WS
        ).total_count
    )


# Measuring -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Completed:
    request: pb.DataSubjectRequest
    seconds: float  # from sending the Create... call to the first answer showing COMPLETED
    server_seconds: float  # created_at -> completed_at, as the consent service recorded them


def wait_completed(suite: PrivacySuite, request_id: str, started: float) -> Completed:
    deadline = time.monotonic() + 120
    while True:
        found = suite.dsr.GetDataSubjectRequest(
            pb.GetDataSubjectRequestRequest(request_id=request_id), metadata=WS
        ).request
        if found.state == COMPLETED:
            seconds = time.perf_counter() - started
            server = found.completed_at.ToDatetime() - found.created_at.ToDatetime()
            return Completed(found, seconds, server.total_seconds())
        if time.monotonic() > deadline:
            raise TimeoutError(f"{request_id} not completed within 120 s: {found}")
        time.sleep(POLL_INTERVAL)


def export(suite: PrivacySuite, person: Person, request_id: str) -> dict[str, Any]:
    started = time.perf_counter()
    suite.dsr.CreateExportRequest(
        pb.CreateExportRequestRequest(subject=person.subject(), request_id=request_id),
        metadata=AS_OFFICER,
    )
    done = wait_completed(suite, request_id, started)
    bundle_json = suite.dsr.GetDataSubjectRequest(
        pb.GetDataSubjectRequestRequest(request_id=request_id, include_bundle=True),
        metadata=AS_OFFICER,
    ).request.bundle_json
    bundle = orjson.loads(bundle_json)
    # An export that misses the subject's events measures nothing worth reporting.
    counts = {
        "ingestion_events": len(bundle["ingestion"]["events"]),
        "profile_events": len(bundle["profile"]["events"]),
        "profiles": len(bundle["profile"]["profiles"]),
        "consent_ledger_entries": len(bundle["consent"]["ledger"]),
    }
    expected = len(person.events)
    if counts["ingestion_events"] != expected or counts["profile_events"] != expected:
        raise RuntimeError(f"export {request_id} holds {counts}, expected {expected} events")
    if counts["consent_ledger_entries"] < 1:
        raise RuntimeError(f"export {request_id} has no consent ledger entry: {counts}")
    return {
        "request_id": request_id,
        "seconds": round(done.seconds, 4),
        "server_seconds": round(done.server_seconds, 4),
        "bytes": len(bundle_json),
        "bytes_by_service": {t.service: int(t.export_bytes) for t in done.request.tasks},
        "contents": counts,
    }


def erase(suite: PrivacySuite, person: Person, request_id: str) -> dict[str, Any]:
    started = time.perf_counter()
    suite.dsr.CreateErasureRequest(
        pb.CreateErasureRequestRequest(subject=person.subject(), request_id=request_id),
        metadata=AS_OFFICER,
    )
    done = wait_completed(suite, request_id, started)
    receipts = {t.service: {e.table: int(e.rows) for e in t.erased} for t in done.request.tasks}
    verify_erased(suite, person, done.request, receipts)
    return {
        "request_id": request_id,
        "seconds": round(done.seconds, 4),
        "server_seconds": round(done.server_seconds, 4),
        "rows": sum(sum(tables.values()) for tables in receipts.values()),
        "receipts": receipts,
    }


def profile_found(suite: PrivacySuite, identifier: T.Identifier) -> bool:
    try:
        suite.profiles.GetProfile(profile_pb2.GetProfileRequest(identifier=identifier), metadata=WS)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return True


def verify_erased(
    suite: PrivacySuite,
    person: Person,
    request: pb.DataSubjectRequest,
    receipts: dict[str, dict[str, int]],
) -> None:
    """The subject is gone from every service, by each of its identifiers, and the request
    itself forgot who it was about; raises BrokenErasure otherwise."""
    problems = []
    if set(receipts) != set(SERVICES):
        problems.append(f"receipts from {sorted(receipts)}, expected {list(SERVICES)}")
    if receipts.get("ingestion", {}).get("events") != len(person.events):
        problems.append(f"ingestion erased {receipts.get('ingestion')}, not the subject's events")
    if not receipts.get("consent", {}).get("consent_entries"):
        problems.append(f"consent erased {receipts.get('consent')}: no ledger entry")
    if sum(receipts.get("profile", {}).values()) < len(person.events):
        problems.append(f"profile erased {receipts.get('profile')}: fewer rows than events")
    if request.subject.identifiers:
        problems.append("the completed erasure request still names the subject")
    for identifier in person.identifiers():
        if profile_found(suite, identifier):
            problems.append(f"GetProfile still finds {T.IdentifierType.Name(identifier.type)}")
    subject = person.subject()
    left = {
        name: orjson.loads(
            stub.ExportSubject(
                privacy_pb2.ExportSubjectRequest(subject=subject), metadata=WS
            ).bundle_json
        )
        for name, stub in suite.privacy.items()
    }
    for name, key in (
        ("ingestion", "events"),
        ("ingestion", "consent_captures"),
        ("profile", "profiles"),
        ("profile", "events"),
        ("consent", "ledger"),
    ):
        if left[name][key]:
            problems.append(f"{name} still exports {len(left[name][key])} {key}")
    suppressed = suite.dsr.CheckSuppression(
        pb.CheckSuppressionRequest(identifiers=person.identifiers()), metadata=WS
    ).suppressed
    if not all(suppressed):
        problems.append(f"not all identifiers suppressed: {list(suppressed)}")
    if problems:
        raise BrokenErasure(f"{request.request_id}: " + "; ".join(problems))


def _p50_max(values: Sequence[int]) -> dict[str, int]:
    return {"p50": int(percentile(values, 50)), "max": int(max(values))}


def summarize(exports: list[dict[str, Any]], erasures: list[dict[str, Any]]) -> dict[str, Any]:
    services = sorted({s for e in exports for s in e["bytes_by_service"]})
    tables = sorted({(s, t) for e in erasures for s, ts in e["receipts"].items() for t in ts})
    rows_by_service: dict[str, dict[str, dict[str, int]]] = {}
    for service, table in tables:
        rows_by_service.setdefault(service, {})[table] = _p50_max(
            [e["receipts"].get(service, {}).get(table, 0) for e in erasures]
        )
    return {
        "export": {
            "latency": latency_summary([e["seconds"] for e in exports]),
            "server_latency": latency_summary([e["server_seconds"] for e in exports]),
            "bytes": _p50_max([e["bytes"] for e in exports]),
            "bytes_by_service": {
                s: _p50_max([e["bytes_by_service"][s] for e in exports]) for s in services
            },
        },
        "erasure": {
            "latency": latency_summary([e["seconds"] for e in erasures]),
            "server_latency": latency_summary([e["server_seconds"] for e in erasures]),
            "rows": _p50_max([e["rows"] for e in erasures]),
            "rows_by_service": rows_by_service,
        },
    }


def run(
    subjects: int,
    events_per_subject: int,
    background_events: int,
    state: Path,
    *,
    dsr_interval: float = DSR_INTERVAL,
    output: Output = print,
) -> dict[str, Any]:
    people = background(background_events)
    targets = [data_subject(i, events_per_subject) for i in range(subjects)]
    workload = interleaved([*people, *targets])
    with running_services(state, dsr_interval=dsr_interval) as suite:
        output(
            f"load: {len(workload):,} events ({len(people):,} other people, {subjects} subjects "
            f"x {events_per_subject:,}) and {len(people) + subjects:,} consent records ..."
        )
        began = time.perf_counter()
        send(suite, workload)
        sent = time.perf_counter() - began
        wait_until_applied(suite)
        applied = time.perf_counter() - began
        began = time.perf_counter()
        for person in [*people, *targets]:
            record_consent(suite, person)
        recorded = time.perf_counter() - began
        events_before, _ = ingested_events(suite)
        profiles_before = live_profiles(suite)
        if events_before != len(workload):
            raise RuntimeError(f"ingestion holds {events_before} events, {len(workload)} sent")
        output(
            f"  sent in {sent:.1f} s, applied to {profiles_before:,} profiles {applied:.1f} s "
            f"after the first batch; consent recorded in {recorded:.1f} s"
        )

        cpu = CpuMeter([])
        exports, erasures = [], []
        for i, person in enumerate(targets):
            exports.append(export(suite, person, f"export-{i}"))
            erasures.append(erase(suite, person, f"erasure-{i}"))
            output(
                f"  subject {i}: export {exports[-1]['seconds'] * 1000:.0f} ms, "
                f"{exports[-1]['bytes']:,} bytes; erasure {erasures[-1]['seconds'] * 1000:.0f} "
                f"ms, {erasures[-1]['rows']:,} rows"
            )
        used = cpu.read()

        # Nobody else lost anything: every other event and profile is still there.
        events_after, _ = ingested_events(suite)
        profiles_after = live_profiles(suite)
        if events_after != events_before - subjects * events_per_subject:
            raise BrokenErasure(f"ingestion holds {events_after} events of {events_before}")
        if profiles_after != profiles_before - subjects:
            raise BrokenErasure(f"{profiles_after} live profiles left of {profiles_before}")
        for person in (people[0], people[-1]):
            kept = suite.profiles.GetProfile(
                profile_pb2.GetProfileRequest(identifier=person.identifiers()[0]), metadata=WS
            ).profile
            if kept.event_count != len(person.events):
                raise BrokenErasure(f"{person.user_id} has {kept.event_count} events left")

    return {
        "subjects": subjects,
        "events_per_subject": events_per_subject,
        "background_events": background_events,
        "background_people": len(people),
        "dsr_worker_interval_seconds": dsr_interval,
        "poll_interval_seconds": POLL_INTERVAL,
        "load": {
            "events": len(workload),
            "consent_records": len(people) + subjects,
            "send_seconds": round(sent, 2),
            "applied_seconds": round(applied, 2),  # from the first batch sent
            "consent_seconds": round(recorded, 2),
            "live_profiles": profiles_before,
        },
        **summarize(exports, erasures),
        "checks": {
            "erasures_verified": len(erasures),
            "events_before": events_before,
            "events_after": events_after,
            "live_profiles_before": profiles_before,
            "live_profiles_after": profiles_after,
        },
        "per_subject": [
            {"export": e, "erasure": r} for e, r in zip(exports, erasures, strict=True)
        ],
        # Services and requester share this process: CPU seconds of the process, and of
        # anything else on the machine, while the requests ran.
        "cpu": None
        if used is None
        else {
            "process_cpu_seconds": used["load_generator_cpu_seconds"],
            "other_cpu_seconds": used["other_cpu_seconds"],
        },
    }


def write_results(result: dict[str, Any], out_dir: Path) -> Path:
    """privacy.json into `out_dir`; RESULTS.md there re-rendered with it when results.json is
    there too (the same renderer as `python -m tests.bench`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "privacy.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    suite_results = out_dir / "results.json"
    if suite_results.exists():
        results = json.loads(suite_results.read_text(encoding="utf-8"))
        # Keep the other benchmarks' sections: RESULTS.md is rendered from all their files.
        segmentation_path = out_dir / "segmentation.json"
        segmentation = (
            json.loads(segmentation_path.read_text(encoding="utf-8"))
            if segmentation_path.exists()
            else None
        )
        (out_dir / "RESULTS.md").write_text(
            render_markdown(results, privacy=result, segmentation=segmentation), encoding="utf-8"
        )
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_privacy", description=__doc__
    )
    parser.add_argument("--subjects", type=int, default=5)
    parser.add_argument("--events-per-subject", type=int, default=1_000)
    parser.add_argument("--background-events", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "bench")
    args = parser.parse_args(argv)
    machine = machine_facts()
    with tempfile.TemporaryDirectory(prefix="precis-bench-privacy-") as state:
        result = run(args.subjects, args.events_per_subject, args.background_events, Path(state))
    result["machine"] = machine
    path = write_results(result, args.out)
    ex, er = result["export"], result["erasure"]
    per_service = ", ".join(f"{s} {v['p50']:,}" for s, v in ex["bytes_by_service"].items())
    print(
        f"data-subject requests, {result['subjects']} subjects x "
        f"{result['events_per_subject']:,} events among {result['load']['events']:,}: "
        f"export p50 {ex['latency']['p50_ms']} ms, max {ex['latency']['max_ms']} ms, "
        f"{ex['bytes']['p50']:,} bytes ({per_service}); erasure p50 "
        f"{er['latency']['p50_ms']} ms, max {er['latency']['max_ms']} ms, "
        f"{er['rows']['p50']:,} rows; worker interval {result['dsr_worker_interval_seconds']} s "
        f"included. Wrote {path}"
    )


if __name__ == "__main__":
    main()
