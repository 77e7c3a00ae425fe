"""The consent ledger through the consent service's gRPC API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import orjson
import pytest
from consent_support import WS, Consent, record, subject

from precis.common.v1 import privacy_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis_common.identifiers import IdentifierKind, PiiHasher
from precis_common.settings import CommonSettings

EMAIL = pb.PURPOSE_MARKETING_EMAIL
SMS = pb.PURPOSE_MARKETING_SMS
ANALYTICS = pb.PURPOSE_ANALYTICS
SHARING = pb.PURPOSE_THIRD_PARTY_SHARING
GRANTED, DENIED, WITHDRAWN = (
    pb.CONSENT_STATUS_GRANTED,
    pb.CONSENT_STATUS_DENIED,
    pb.CONSENT_STATUS_WITHDRAWN,
)


def check(consent: Consent, who: privacy_pb2.DataSubject, *purposes: int) -> list[tuple[bool, int]]:
    response = consent.stub.CheckConsent(
        pb.CheckConsentRequest(subject=who, purposes=list(purposes)), metadata=WS
    )
    return [(d.allowed, d.reason) for d in response.decisions]


def email_hash(email: str) -> str:
    settings = CommonSettings()
    hasher = PiiHasher(settings.pii_secret.get_secret_value())
    return hasher.stored_value("brand-a", IdentifierKind.EMAIL, email, field="email")


def test_a_grant_is_recorded_and_checked_by_any_identifier_recorded(consent: Consent) -> None:
    ann = subject(user_id="u1", email="Ann@Example.com")
    response = consent.stub.RecordConsent(record(ann, (EMAIL, GRANTED)), metadata=WS)
    [entry] = response.entries
    assert (entry.purpose, entry.status, entry.policy_version) == (EMAIL, GRANTED, "2026-05")
    assert entry.source == "signup_form_v3" and entry.proof_reference == "form-42"
    shown = [i.value for i in entry.subject.identifiers]
    assert "u1" in shown and all("ann" not in v.lower() for v in shown)
    states = {s.purpose: s for s in response.states}
    assert states[EMAIL].allowed and states[EMAIL].entry_id == entry.entry_id

    allowed = (True, pb.DECISION_REASON_EXPLICIT_GRANT)
    assert check(consent, subject(email=" ann@example.COM "), EMAIL) == [allowed]
    assert check(consent, subject(user_id="u1"), EMAIL, SMS, ANALYTICS) == [
        allowed,
        (False, pb.DECISION_REASON_DEFAULT_DENIED),  # marketing is opt-in
        (True, pb.DECISION_REASON_DEFAULT_GRANTED),
    ]
    assert check(consent, subject(user_id="someone-else"), EMAIL) == [
        (False, pb.DECISION_REASON_DEFAULT_DENIED)
    ]
    # Clear-text personal data is stored nowhere.
    assert "ann@example.com" not in repr(consent.rows()).lower()


def test_the_latest_decision_wins_by_the_time_it_was_made(consent: Consent) -> None:
    both = subject(user_id="u2", email="bo@example.com")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    consent.stub.RecordConsent(
        record(both, (EMAIL, GRANTED), at=t0 + timedelta(days=1)), metadata=WS
    )
    # Withdrawn later through an unsubscribe link that knows only the email address.
    consent.stub.RecordConsent(
        record(subject(email="bo@example.com"), (EMAIL, WITHDRAWN), at=t0 + timedelta(days=5)),
        metadata=WS,
    )
    # An import of an even older grant arrives last: it goes to the ledger, not to the state.
    consent.stub.RecordConsent(record(both, (EMAIL, GRANTED), at=t0), metadata=WS)

    assert check(consent, both, EMAIL) == [(False, pb.DECISION_REASON_WITHDRAWN)]
    history = consent.stub.ListConsentHistory(
        pb.ListConsentHistoryRequest(subject=both, page_size=2), metadata=WS
    )
    assert [e.status for e in history.entries] == [WITHDRAWN, GRANTED]
    rest = consent.stub.ListConsentHistory(
        pb.ListConsentHistoryRequest(subject=both, page_size=2, page_token=history.next_page_token),
        metadata=WS,
    )
    assert [e.status for e in rest.entries] == [GRANTED] and not rest.next_page_token
    kinds = [(k, c.status, c.previous_status) for k, c in consent.changes()]
    # The late import changed nothing in force, so it is not announced.
    assert kinds == [
        ("consent.recorded", GRANTED, DENIED),
        ("consent.recorded", WITHDRAWN, GRANTED),
    ]
    change = consent.changes()[1][1]
    assert email_hash("bo@example.com") in [i.value for i in change.identifiers]


def test_a_repeated_request_id_appends_nothing(consent: Consent) -> None:
    request = record(subject(user_id="u3"), (EMAIL, GRANTED), (SMS, DENIED), request_id="req-1")
    first = consent.stub.RecordConsent(request, metadata=WS)
    again = consent.stub.RecordConsent(request, metadata=WS)
    assert [e.entry_id for e in first.entries] == [e.entry_id for e in again.entries]
    assert len(consent.rows()["consent_entries"]) == 2
    # Both entries are in force (an explicit denial replaces the default one), announced once.
    assert len(consent.changes()) == 2


def test_separate_consents_cannot_be_bundled(consent: Consent) -> None:
    who = subject(user_id="u4")
    with pytest.raises(grpc.RpcError) as refused:
        consent.stub.RecordConsent(record(who, (EMAIL, GRANTED), (SHARING, GRANTED)), metadata=WS)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "choices" in (refused.value.details() or "")
    assert consent.rows()["consent_entries"] == []
    consent.stub.RecordConsent(record(who, (SHARING, GRANTED)), metadata=WS)
    assert check(consent, who, SHARING) == [(True, pb.DECISION_REASON_EXPLICIT_GRANT)]
    # Refusing several at once is fine.
    consent.stub.RecordConsent(record(who, (EMAIL, DENIED), (SHARING, WITHDRAWN)), metadata=WS)
    assert check(consent, who, SHARING) == [(False, pb.DECISION_REASON_WITHDRAWN)]


def set_defaults(
    consent: Consent,
    jurisdiction: str,
    *defaults: tuple[int, int, bool],
    minimum_policy: str = "",
    make_default: bool = False,
) -> pb.JurisdictionDefaults:
    request = pb.SetConsentDefaultsRequest(
        defaults=pb.JurisdictionDefaults(
            jurisdiction=jurisdiction,
            defaults=[
                pb.PurposeDefault(purpose=p, status=s, requires_separate_consent=sep)
                for p, s, sep in defaults
            ],
            minimum_policy_version=minimum_policy,
        ),
        make_default_jurisdiction=make_default,
    )
    return consent.stub.SetConsentDefaults(request, metadata=WS).defaults


def test_defaults_per_jurisdiction_and_their_limits(consent: Consent) -> None:
    built_in = consent.stub.GetConsentDefaults(pb.GetConsentDefaultsRequest(), metadata=WS)
    assert built_in.default_jurisdiction == "*"
    fallback = {d.purpose: d for d in built_in.jurisdictions[0].defaults}
    assert fallback[ANALYTICS].status == GRANTED and fallback[EMAIL].status == DENIED
    assert fallback[SHARING].requires_separate_consent

    # PIPL and GDPR: marketing may not default to granted in CN (nor in the fallback).
    for jurisdiction in ("CN", "DE", "*"):
        with pytest.raises(grpc.RpcError) as refused:
            set_defaults(consent, jurisdiction, (EMAIL, GRANTED, False))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "defaults.defaults[0].status" in (refused.value.details() or "")
    # An opt-out regime may.
    stored = set_defaults(consent, "US-CA", (EMAIL, GRANTED, False))
    assert {d.purpose: d.status for d in stored.defaults}[EMAIL] == GRANTED
    californian = subject(user_id="ca-1")
    consent.stub.RecordConsent(
        record(californian, (SMS, DENIED), jurisdiction="US-CA"), metadata=WS
    )
    assert check(consent, californian, EMAIL) == [(True, pb.DECISION_REASON_DEFAULT_GRANTED)]
    kinds = [k for k, _ in consent.changes()]
    assert kinds.count("consent.defaults_changed") == 1

    # Analytics off by default in CN, made the workspace's jurisdiction.
    set_defaults(consent, "CN", (ANALYTICS, DENIED, False), make_default=True)
    assert check(consent, subject(user_id="new"), ANALYTICS) == [
        (False, pb.DECISION_REASON_DEFAULT_DENIED)
    ]


def test_grants_under_an_outdated_policy_no_longer_count(consent: Consent) -> None:
    who = subject(user_id="u5")
    consent.stub.RecordConsent(record(who, (EMAIL, GRANTED), policy="2025-01"), metadata=WS)
    set_defaults(consent, "*", minimum_policy="2026-01")
    assert check(consent, who, EMAIL) == [(False, pb.DECISION_REASON_POLICY_OUTDATED)]
    consent.stub.RecordConsent(record(who, (EMAIL, GRANTED), policy="2026-03"), metadata=WS)
    assert check(consent, who, EMAIL) == [(True, pb.DECISION_REASON_EXPLICIT_GRANT)]


def test_a_minor_needs_a_guardian(consent: Consent) -> None:
    child, parent = subject(user_id="kid"), subject(user_id="mum", phone="13800138000")
    status = pb.MinorStatus(subject=child, is_minor=True, guardian=parent)
    status.comes_of_age_at.FromDatetime(datetime.now(UTC) + timedelta(days=3650))
    stored = consent.stub.SetMinorStatus(pb.SetMinorStatusRequest(status=status), metadata=WS)
    assert stored.status.is_minor
    assert all("13800138000" not in i.value for i in stored.status.guardian.identifiers)
    # Even default-granted analytics now waits for the guardian.
    assert check(consent, child, ANALYTICS) == [(False, pb.DECISION_REASON_MINOR_WITHOUT_GUARDIAN)]
    with pytest.raises(grpc.RpcError) as refused:
        consent.stub.RecordConsent(record(child, (ANALYTICS, GRANTED)), metadata=WS)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    consent.stub.RecordConsent(record(child, (ANALYTICS, GRANTED), guardian=parent), metadata=WS)
    assert check(consent, child, ANALYTICS) == [(True, pb.DECISION_REASON_EXPLICIT_GRANT)]
    # The guardian's decisions are in the guardian's history too.
    history = consent.stub.ListConsentHistory(
        pb.ListConsentHistoryRequest(subject=subject(user_id="mum")), metadata=WS
    )
    assert len(history.entries) == 1
    # Come of age: the defaults apply again.
    grown = pb.MinorStatus(subject=child, is_minor=True, guardian=parent)
    grown.comes_of_age_at.FromDatetime(datetime.now(UTC) - timedelta(days=1))
    consent.stub.SetMinorStatus(pb.SetMinorStatusRequest(status=grown), metadata=WS)
    assert check(consent, child, SMS) == [(False, pb.DECISION_REASON_DEFAULT_DENIED)]
    assert "consent.minor_status_changed" in [k for k, _ in consent.changes()]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.ClearField("subject"), "subject.identifiers"),
        (lambda r: r.choices.add(purpose=0, status=GRANTED), "choices[1].purpose"),
        (lambda r: r.choices.add(purpose=EMAIL, status=DENIED), "choices[1].purpose"),
        (lambda r: r.choices.add(purpose=SMS, status=0), "choices[1].status"),
        (lambda r: setattr(r, "policy_version", ""), "policy_version"),
        (lambda r: setattr(r, "source", " "), "source"),
        (lambda r: setattr(r, "jurisdiction", "China"), "jurisdiction"),
        (lambda r: setattr(r, "request_id", "x" * 129), "request_id"),
        (
            lambda r: r.occurred_at.FromDatetime(datetime.now(UTC) + timedelta(hours=1)),
            "occurred_at",
        ),
        (
            lambda r: r.subject.identifiers.add(type=3, value="not an email"),
            "subject.identifiers[1].value",
        ),
        (lambda r: r.guardian.identifiers.add(type=1, value="u6"), "guardian"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    consent: Consent, mutate: object, field: str
) -> None:
    request = record(subject(user_id="u6"), (EMAIL, GRANTED))
    mutate(request)  # type: ignore[operator]
    with pytest.raises(grpc.RpcError) as refused:
        consent.stub.RecordConsent(request, metadata=WS)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or ""), refused.value.details()
    assert consent.rows()["consent_entries"] == []
    assert consent.changes() == []


def test_export_and_erase_the_subjects_consent_records(consent: Consent) -> None:
    child, parent = subject(user_id="kid2"), subject(email="parent@example.com")
    status = pb.MinorStatus(subject=child, is_minor=True, guardian=parent)
    consent.stub.SetMinorStatus(pb.SetMinorStatusRequest(status=status), metadata=WS)
    consent.stub.RecordConsent(record(child, (ANALYTICS, GRANTED), guardian=parent), metadata=WS)
    consent.stub.RecordConsent(record(parent, (EMAIL, GRANTED)), metadata=WS)

    bundle = orjson.loads(
        consent.privacy.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=parent), metadata=WS
        ).bundle_json
    )
    assert len(bundle["ledger"]) == 2  # its own grant and the one it gave as a guardian
    assert bundle["state"]["marketing_email"]["allowed"] is True

    receipt = consent.privacy.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=parent), metadata=WS
    )
    erased = {r.table: r.rows for r in receipt.erased}
    assert erased["consent_entries"] == 1 and erased["consent_entries_guardian_redacted"] == 1
    hashed = email_hash("parent@example.com")
    assert hashed not in repr(consent.rows())
    # The decision made for the child stands, without the guardian's identifiers.
    assert check(consent, child, ANALYTICS) == [(True, pb.DECISION_REASON_EXPLICIT_GRANT)]
    assert consent.stub.GetMinorStatus(
        pb.GetMinorStatusRequest(subject=child), metadata=WS
    ).status.is_minor
    again = consent.privacy.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=parent), metadata=WS
    )
    assert sum(r.rows for r in again.erased) == 0
