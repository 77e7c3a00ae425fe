"""Consent stated inside events (context.consent): ingestion publishes it on its
consent_captures feed, the consent service records it in the ledger; real processes' code in
process, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from consent_support import Consent, make_consent, subject
from test_enforcement import deny_analytics_by_default, free_port, start_ingestion, ws

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc
from precis.consent.v1 import consent_pb2 as pb
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis_ingestion.app import IngestionApp

GRANTED, DENIED = pb.CONSENT_STATUS_GRANTED, pb.CONSENT_STATUS_DENIED
ACCEPTED = ingestion_pb2.EVENT_STATUS_ACCEPTED
DUPLICATE = ingestion_pb2.EVENT_STATUS_DUPLICATE
REJECTED = ingestion_pb2.EVENT_STATUS_REJECTED
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def pair(
    database_url_factory: Callable[[str], str], tmp_path: Path
) -> Iterator[tuple[Consent, IngestionApp]]:
    """Consent following ingestion's consent_captures feed, ingestion asking consent."""
    consent_port, ingestion_port = free_port(), free_port()
    consents = make_consent(
        database_url_factory,
        tmp_path / "consent",
        consent_grpc_port=consent_port,
        consent_ingestion_target=f"127.0.0.1:{ingestion_port}",
    )
    consent = next(consents)
    ingestion = start_ingestion(
        database_url_factory("ingestion"),
        tmp_path / "ingestion",
        f"127.0.0.1:{consent_port}",
        {"drops": "drop"},
        port=ingestion_port,
    )
    yield consent, ingestion
    ingestion.stop(0)
    next(consents, None)


def event(uid: str, n: int, consent: dict[str, Any] | None, **context: Any) -> ingestion_pb2.Event:
    e = ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_TRACK,
        event="Consent Updated",
        message_id=f"{uid}-{n}",
        user_id=uid,
        context_json=orjson.dumps({**context, **({"consent": consent} if consent else {})}),
    )
    e.timestamp.FromDatetime(AT)
    return e


def send(
    app: IngestionApp, workspace: str, *batch: ingestion_pb2.Event
) -> ingestion_pb2.BatchResponse:
    stub = ingestion_pb2_grpc.IngestionServiceStub(grpc.insecure_channel(f"127.0.0.1:{app.port}"))
    return stub.Batch(ingestion_pb2.BatchRequest(events=list(batch)), metadata=ws(workspace))


def states(consent: Consent, workspace: str, uid: str) -> dict[int, tuple[int, bool]]:
    response = consent.stub.GetConsentState(
        pb.GetConsentStateRequest(subject=subject(user_id=uid)), metadata=ws(workspace)
    )
    return {s.purpose: (s.status, s.allowed) for s in response.states}


def wait_recorded(consent: Consent, count: int) -> None:
    deadline = time.monotonic() + 20
    while consent.app.recorder.recorded + consent.app.recorder.rejected < count:
        assert time.monotonic() < deadline, consent.app.consumer and consent.app.consumer.last_error
        time.sleep(0.02)


BANNER = {
    "policy_version": "2026-09",
    "purposes": {
        "analytics": "granted",
        "marketing_email": True,
        "ads_targeting": "denied",
        "third_party_sharing": "granted",
    },
    "channel": "web",
    "proof_reference": "cmp:receipt/8812",
    "jurisdiction": "CN",
}


def test_consent_stated_in_an_event_reaches_the_ledger_once(
    pair: tuple[Consent, IngestionApp],
) -> None:
    consent, ingestion = pair
    response = send(ingestion, "shop", event("mei", 1, BANNER, source="cookie_banner"))
    assert [r.status for r in response.results] == [ACCEPTED]
    wait_recorded(consent, 4)
    state = states(consent, "shop", "mei")
    assert state[pb.PURPOSE_MARKETING_EMAIL] == (GRANTED, True)
    assert state[pb.PURPOSE_ADS_TARGETING] == (DENIED, False)
    # A separate consent (PIPL) stated with other purposes: each purpose is its own entry.
    assert state[pb.PURPOSE_THIRD_PARTY_SHARING] == (GRANTED, True)
    history = consent.stub.ListConsentHistory(
        pb.ListConsentHistoryRequest(subject=subject(user_id="mei")), metadata=ws("shop")
    ).entries
    assert len(history) == 4
    assert {h.source for h in history} == {"cookie_banner"}
    assert {h.proof_reference for h in history} == {"cmp:receipt/8812"}
    assert {h.policy_version for h in history} == {"2026-09"}
    assert {h.channel for h in history} == {pb.CAPTURE_CHANNEL_WEB}
    assert {h.occurred_at.ToDatetime(tzinfo=UTC) for h in history} == {AT}
    # The change is on the consent_changes feed like any other.
    recorded = [c for k, c in consent.changes() if k == "consent.recorded"]
    assert len(recorded) == 4
    # The same event again (a client retry, a replay): nothing new in the ledger.
    again = send(ingestion, "shop", event("mei", 1, BANNER, source="cookie_banner"))
    assert [r.status for r in again.results] == [DUPLICATE]
    send(
        ingestion,
        "shop",
        event("later", 1, {"policy_version": "1", "purposes": {"analytics": True}}),
    )
    wait_recorded(consent, 5)
    assert (
        len(
            consent.stub.ListConsentHistory(
                pb.ListConsentHistoryRequest(subject=subject(user_id="mei")), metadata=ws("shop")
            ).entries
        )
        == 4
    )


def test_a_no_reaches_the_ledger_even_when_the_event_is_dropped(
    pair: tuple[Consent, IngestionApp],
) -> None:
    consent, ingestion = pair
    deny_analytics_by_default(consent, "drops")
    no_analytics = {
        "policy_version": "2026-09",
        "purposes": {"analytics": "denied", "marketing_sms": "granted"},
    }
    yes_analytics = {"policy_version": "2026-09", "purposes": {"analytics": "granted"}}
    response = send(
        ingestion,
        "drops",
        event("ann", 1, no_analytics),
        event("bob", 1, yes_analytics),
        event("cyd", 1, None),
    )
    # ann says no: dropped at once; bob says yes: kept although the default denies; cyd says
    # nothing and the default denies.
    assert [r.status for r in response.results] == [REJECTED, ACCEPTED, REJECTED]
    assert [v.field for v in response.results[0].violations] == ["batch[0].consent"]
    wait_recorded(consent, 3)
    assert states(consent, "drops", "ann")[pb.PURPOSE_MARKETING_SMS] == (GRANTED, True)
    assert states(consent, "drops", "ann")[pb.PURPOSE_ANALYTICS] == (DENIED, False)
    assert states(consent, "drops", "bob")[pb.PURPOSE_ANALYTICS] == (GRANTED, True)
    # Having said yes, bob's next events are kept without stating anything.
    deadline = time.monotonic() + 10
    while [r.status for r in send(ingestion, "drops", event("bob", 2, None)).results] != [ACCEPTED]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_minors_own_choice_is_skipped_and_the_feed_goes_on(
    pair: tuple[Consent, IngestionApp],
) -> None:
    consent, ingestion = pair
    consent.stub.SetMinorStatus(
        pb.SetMinorStatusRequest(
            status=pb.MinorStatus(
                subject=subject(user_id="kid"), is_minor=True, guardian=subject(user_id="mum")
            )
        ),
        metadata=ws("shop"),
    )
    yes = {"policy_version": "2026-09", "purposes": {"marketing_push": "granted"}}
    send(ingestion, "shop", event("kid", 1, yes), event("adult", 1, yes))
    wait_recorded(consent, 2)
    assert consent.app.recorder.rejected == 1
    assert states(consent, "shop", "kid")[pb.PURPOSE_MARKETING_PUSH][1] is False
    assert states(consent, "shop", "adult")[pb.PURPOSE_MARKETING_PUSH] == (GRANTED, True)


def test_event_consent_is_exported_and_erased_with_the_subject(
    pair: tuple[Consent, IngestionApp],
) -> None:
    consent, ingestion = pair
    identify = ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_IDENTIFY,
        message_id="eve-1",
        user_id="eve",
        traits_json=orjson.dumps({"email": "Eve@Example.com"}),
        context_json=orjson.dumps({"consent": BANNER}),
    )
    send(ingestion, "shop", identify)
    wait_recorded(consent, 4)
    privacy = privacy_pb2_grpc.PrivacyServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{ingestion.port}")
    )
    who = privacy_pb2.DataSubject(identifiers=[subject(email="eve@example.com").identifiers[0]])
    bundle = orjson.loads(
        privacy.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=who), metadata=ws("shop")
        ).bundle_json
    )
    [captured] = bundle["consent_captures"]
    assert captured["policy_version"] == "2026-09" and len(captured["choices"]) == 4
    assert "eve@example.com" not in orjson.dumps(bundle).decode().lower()
    receipt = privacy.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=who), metadata=ws("shop")
    )
    assert {e.table: e.rows for e in receipt.erased} == {"events": 1, "consent_captures": 1}
    # The ledger's copy is the consent service's to erase (its own PrivacyService).
    assert consent.app.recorder.recorded == 4


def test_an_event_accepted_just_before_an_erasure_does_not_bring_the_subject_back(
    pair: tuple[Consent, IngestionApp],
) -> None:
    consent, ingestion = pair
    assert consent.app.consumer is not None
    consent.app.consumer.stop()  # the consumer lags behind: the erasure overtakes the capture
    yes = {"policy_version": "2026-09", "purposes": {"marketing_email": "granted"}}
    send(ingestion, "shop", event("gone", 1, yes), event("stays", 1, yes))
    consent.stub.CreateErasureRequest(
        pb.CreateErasureRequestRequest(request_id="erase-gone", subject=subject(user_id="gone")),
        metadata=ws("shop"),
    )
    deadline = time.monotonic() + 20
    while True:  # the channel may still be backing off from before ingestion was up
        try:
            assert consent.app.consumer.run_once() == 2
            break
        except grpc.RpcError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    consent.app.recorder.committed()
    assert (consent.app.recorder.recorded, consent.app.recorder.rejected) == (1, 1)
    history = consent.stub.ListConsentHistory(
        pb.ListConsentHistoryRequest(subject=subject(user_id="gone")), metadata=ws("shop")
    )
    assert list(history.entries) == []
    assert states(consent, "shop", "stays")[pb.PURPOSE_MARKETING_EMAIL] == (GRANTED, True)
