"""The segmentation service over gRPC, fed through its real feed consumers: segments are defined,
sized, previewed, materialized and kept current as profile and consent changes arrive; members
are released per channel on consent; the membership_changes feed says who entered and exited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import orjson
import pytest
from service_support import (
    Service,
    deleted,
    merged,
    metadata,
    upserted,
    wait_for,
)

from precis.common.v1 import privacy_pb2, types_pb2
from precis.segmentation.v1 import segmentation_pb2 as pb

NOW = datetime.now(UTC)
ORDER = "Order Completed"
# Two or more orders in the last 30 days.
REPEAT_BUYERS = {"event": {"name": ORDER, "count": {"op": ">=", "value": 2}, "within_days": 30}}


def orders(prefix: str, *days_ago: int, revenue: float = 10.0) -> list[Any]:
    return [
        (f"{prefix}-{i}", ORDER, NOW - timedelta(days=d), {"revenue": revenue})
        for i, d in enumerate(days_ago)
    ]


def test_membership_follows_profile_changes_and_is_published(service: Service) -> None:
    segment = service.create("Repeat buyers", REPEAT_BUYERS, materialize=True)
    assert segment.version == 1 and segment.refreshed_at.seconds > 0
    service.producers.publish([upserted("p1", user_id="u1", events=orders("p1a", 3))])
    service.settle()
    assert service.member_ids(segment.segment_id) == set()

    service.producers.publish([upserted("p1", user_id="u1", events=orders("p1b", 1))])
    service.settle()
    assert service.member_ids(segment.segment_id) == {"p1"}
    # A replayed event (same message id) does not count twice.
    service.producers.publish([upserted("p2", user_id="u2", events=orders("p2", 2) * 2)])
    service.settle()
    assert service.member_ids(segment.segment_id) == {"p1"}

    entered = [c for c in service.changes() if c.kind == pb.MEMBERSHIP_CHANGE_KIND_ENTERED]
    assert [(c.segment_id, c.profile_id, c.segment_version) for c in entered] == [
        (segment.segment_id, "p1", 1)
    ]
    got = service.stub.GetSegment(
        pb.GetSegmentRequest(segment_id=segment.segment_id), metadata=metadata()
    ).segment
    assert got.member_count == 1


def test_merges_rekey_facts_and_erasures_exit(service: Service) -> None:
    segment = service.create("Repeat buyers", REPEAT_BUYERS, materialize=True)
    service.producers.publish(
        [
            upserted("p1", user_id="u1", events=orders("a", 1)),
            upserted("p2", user_id="u2", events=orders("b", 2, 3)),
        ]
    )
    service.settle()
    assert service.member_ids(segment.segment_id) == {"p2"}
    # p2 is merged into p1: p2 exits, p1 now has three orders and enters.
    service.producers.publish([merged("p1", "p2"), upserted("p1", user_id="u1")])
    service.settle()
    assert service.member_ids(segment.segment_id) == {"p1"}
    kinds = [(c.kind, c.profile_id) for c in service.changes()]
    assert kinds[-2:] == [
        (pb.MEMBERSHIP_CHANGE_KIND_EXITED, "p2"),
        (pb.MEMBERSHIP_CHANGE_KIND_ENTERED, "p1"),
    ]
    size = service.stub.EstimateSegmentSize(
        pb.EstimateSegmentSizeRequest(
            rule_json=orjson.dumps({"event": {"name": ORDER, "count": {"op": ">=", "value": 3}}})
        ),
        metadata=metadata(),
    )
    assert (size.matched_count, size.total_profiles) == (1, 1)

    service.producers.publish([deleted("p1")])
    service.settle()
    assert service.member_ids(segment.segment_id) == set()
    assert service.changes()[-1].kind == pb.MEMBERSHIP_CHANGE_KIND_EXITED


def test_split_moves_events_to_the_profile_they_now_belong_to(service: Service) -> None:
    segment = service.create("Repeat buyers", REPEAT_BUYERS, materialize=True)
    service.producers.publish([upserted("p1", user_id="u1", events=orders("x", 1, 2, 3))])
    service.settle()
    assert service.member_ids(segment.segment_id) == {"p1"}
    # An unmerge leaves one order on p1 and moves two to the new p9.
    service.producers.publish(
        [upserted("p1", user_id="u1"), upserted("p9", user_id="u9", reassigned=["x-1", "x-2"])]
    )
    service.settle()
    assert service.member_ids(segment.segment_id) == {"p9"}


def test_members_are_released_only_with_the_channels_consent(service: Service) -> None:
    rule = {"field": "traits.city", "op": "=", "value": "Shanghai"}
    segment = service.create("Shanghai", rule, materialize=True)
    service.producers.publish(
        [
            upserted(f"p{i}", user_id=f"u{i}", traits={"city": "Shanghai", "first_name": f"N{i}"})
            for i in range(5)
        ]
        + [upserted("p9", user_id="u9", traits={"city": "Beijing"})]
    )
    service.settle()
    listing = service.members(segment.segment_id, pb.CHANNEL_EMAIL)
    assert (listing.total_count, listing.suppressed_count, list(listing.members)) == (5, 5, [])

    for i in (1, 3):
        service.producers.grant(f"u{i}", "marketing_email")
    service.producers.grant("u4", "marketing_sms")
    wait_for(
        lambda: service.members(segment.segment_id, pb.CHANNEL_EMAIL).suppressed_count == 3,
        what="consent to reach the read model",
    )
    listing = service.members(segment.segment_id, pb.CHANNEL_EMAIL)
    assert [m.profile_id for m in listing.members] == ["p1", "p3"]
    assert service.members(segment.segment_id, pb.CHANNEL_SMS).suppressed_count == 4

    size = service.stub.EstimateSegmentSize(
        pb.EstimateSegmentSizeRequest(segment_id=segment.segment_id, channel=pb.CHANNEL_EMAIL),
        metadata=metadata(),
    )
    assert (size.matched_count, size.releasable_count, size.total_profiles) == (5, 2, 6)

    chunks = list(
        service.stub.ExportSegment(
            pb.ExportSegmentRequest(
                segment_id=segment.segment_id,
                channel=pb.CHANNEL_EMAIL,
                columns=["profile_id", "user_id", "trait:first_name"],
            ),
            metadata=metadata(),
        )
    )
    assert chunks[-1].last and chunks[-1].suppressed_count == 3 and chunks[-1].row_count == 2
    text = b"".join(c.csv for c in chunks).decode()
    assert list(csv.reader(io.StringIO(text))) == [
        ["profile_id", "user_id", "trait:first_name"],
        ["p1", "u1", "N1"],
        ["p3", "u3", "N3"],
    ]

    # A withdrawal takes the member back out of every release.
    service.producers.withdraw("u1", "marketing_email")
    wait_for(
        lambda: [m.profile_id for m in service.members(segment.segment_id, 1).members] == ["p3"],
        what="the withdrawal",
    )


def test_consent_conditions_in_rules_follow_the_ledger(service: Service) -> None:
    segment = service.create(
        "Email-able",
        {"consent": "marketing_email"},
        materialize=True,
    )
    service.producers.publish([upserted("p1", user_id="u1"), upserted("p2", user_id="u2")])
    service.settle()
    assert service.member_ids(segment.segment_id) == set()
    service.producers.grant("u2", "marketing_email")
    wait_for(lambda: service.member_ids(segment.segment_id) == {"p2"}, what="entry on consent")


def test_no_release_on_stale_consent(service: Service) -> None:
    segment = service.create("All", {"field": "tags", "op": "exists", "value": False})
    service.producers.consent.fail = True
    service.producers.publish([upserted("p1", user_id="u1")])
    wait_for(lambda: service.app.consent_sync.last_error is not None, what="the failed check")
    with pytest.raises(grpc.RpcError) as err:
        service.members(segment.segment_id, pb.CHANNEL_EMAIL)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "stale consent" in (err.value.details() or "")
    service.producers.consent.fail = False
    wait_for(lambda: service.app.consent_sync.last_error is None, what="recovery")
    service.settle()
    assert service.members(segment.segment_id, pb.CHANNEL_EMAIL).total_count == 0


def test_bad_rules_name_the_json_path(service: Service) -> None:
    with pytest.raises(grpc.RpcError) as err:
        service.create("Bad", {"all": [{"field": "traits.age", "op": "between", "value": [9]}]})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rule_json.all[0].value" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        service.stub.CreateSegment(
            pb.CreateSegmentRequest(name="Broken", rule_json=b"{not json"), metadata=metadata()
        )
    assert "rule_json" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        service.create("Unknown ref", {"segment": "seg_missing"})
    assert "unknown segment" in (err.value.details() or "")


def test_definitions_lifecycle(service: Service) -> None:
    base = service.create("VIP", {"field": "tags", "op": "contains", "value": "vip"})
    derived = service.create(
        "VIP in Shanghai",
        {"all": [{"segment": base.segment_id}, {"field": "traits.city", "op": "=", "value": "SH"}]},
    )
    with pytest.raises(grpc.RpcError) as err:
        service.create("VIP", {"field": "tags", "op": "contains", "value": "x"})
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # A cycle through another segment is refused with the chain.
    with pytest.raises(grpc.RpcError) as err:
        service.stub.UpdateSegment(
            pb.UpdateSegmentRequest(
                segment_id=base.segment_id,
                rule_json=orjson.dumps({"segment": derived.segment_id}),
            ),
            metadata=metadata(),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cycle" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        service.stub.DeleteSegment(
            pb.DeleteSegmentRequest(segment_id=base.segment_id), metadata=metadata()
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "VIP in Shanghai" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        service.stub.UpdateSegment(
            pb.UpdateSegmentRequest(segment_id=base.segment_id, name="x", expected_version=7),
            metadata=metadata(),
        )
    assert err.value.code() == grpc.StatusCode.ABORTED
    updated = service.stub.UpdateSegment(
        pb.UpdateSegmentRequest(
            segment_id=base.segment_id,
            rule_json=orjson.dumps({"field": "tags", "op": "in", "value": ["vip", "vvip"]}),
            expected_version=1,
        ),
        metadata=metadata(),
    ).segment
    assert updated.version == 2
    listed = service.stub.ListSegments(pb.ListSegmentsRequest(page_size=1), metadata=metadata())
    assert [s.name for s in listed.segments] == ["VIP"] and listed.next_page_token
    rest = service.stub.ListSegments(
        pb.ListSegmentsRequest(page_size=1, page_token=listed.next_page_token),
        metadata=metadata(),
    )
    assert [s.name for s in rest.segments] == ["VIP in Shanghai"] and not rest.next_page_token
    service.stub.DeleteSegment(
        pb.DeleteSegmentRequest(segment_id=derived.segment_id), metadata=metadata()
    )
    with pytest.raises(grpc.RpcError) as err:
        service.stub.GetSegment(
            pb.GetSegmentRequest(segment_id=derived.segment_id), metadata=metadata()
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Another workspace sees none of it.
    other = service.stub.ListSegments(pb.ListSegmentsRequest(), metadata=metadata("ws_other"))
    assert list(other.segments) == []


def test_rule_change_and_deletion_publish_exits(service: Service) -> None:
    service.producers.publish(
        [upserted(f"p{i}", user_id=f"u{i}", tags=["vip"] if i < 3 else []) for i in range(5)]
    )
    service.settle()
    segment = service.create("VIP", {"field": "tags", "op": "contains", "value": "vip"})
    refreshed = service.stub.RefreshSegment(
        pb.RefreshSegmentRequest(segment_id=segment.segment_id), metadata=metadata()
    )
    assert (refreshed.entered_count, refreshed.exited_count, refreshed.full) == (3, 0, True)
    updated = service.stub.UpdateSegment(
        pb.UpdateSegmentRequest(
            segment_id=segment.segment_id,
            rule_json=orjson.dumps({"field": "tags", "op": "exists", "value": False}),
        ),
        metadata=metadata(),
    ).segment
    assert updated.member_count == 2 and updated.version == 2
    assert service.member_ids(segment.segment_id) == {"p3", "p4"}
    exited = service.stub.DeleteSegment(
        pb.DeleteSegmentRequest(segment_id=segment.segment_id), metadata=metadata()
    )
    assert exited.exited_count == 2
    versions = [(c.kind, c.segment_version) for c in service.changes()]
    assert versions.count((pb.MEMBERSHIP_CHANGE_KIND_ENTERED, 1)) == 3
    assert versions.count((pb.MEMBERSHIP_CHANGE_KIND_EXITED, 2)) == 5


def test_time_windows_are_re_evaluated_as_time_passes(service: Service) -> None:
    service.producers.publish([upserted("p1", user_id="u1", events=orders("o", 25, 28))])
    service.settle()
    segment = service.create("Repeat buyers", REPEAT_BUYERS, materialize=True)
    # A segment over it moves with it, though its own rule does not depend on the clock.
    over = service.create("Repeat buyers, copy", {"segment": segment.segment_id}, materialize=True)
    assert service.member_ids(segment.segment_id) == {"p1"} == service.member_ids(over.segment_id)
    # Nothing changes for p1, but three days later its first order is out of the window.
    assert service.app.scheduler.run_once(NOW + timedelta(days=3)) == 1
    assert service.member_ids(segment.segment_id) == set() == service.member_ids(over.segment_id)


def test_preview_and_profile_segments(service: Service) -> None:
    service.producers.publish(
        [
            upserted(
                f"p{i}",
                user_id=f"u{i}",
                email_hash=f"{i:064x}",
                traits={"city": "SH", "age": 20 + i, "secret": "x"},
            )
            for i in range(30)
        ]
    )
    service.settle()
    rule = {"field": "traits.age", "op": ">=", "value": 40}
    preview = service.stub.PreviewSegment(
        pb.PreviewSegmentRequest(rule_json=orjson.dumps(rule), sample_size=5, seed=7),
        metadata=metadata(),
    )
    assert preview.matched_count == 10 and len(preview.profiles) == 5
    again = service.stub.PreviewSegment(
        pb.PreviewSegmentRequest(rule_json=orjson.dumps(rule), sample_size=5, seed=7),
        metadata=metadata(),
    )
    assert [p.profile_id for p in again.profiles] == [p.profile_id for p in preview.profiles]
    first = preview.profiles[0]
    assert set(orjson.loads(first.traits_json)) == {"traits.age"}
    email = next(i for i in first.identifiers if i.type == types_pb2.IDENTIFIER_TYPE_EMAIL)
    assert email.value.startswith("hmac:") and len(email.value) < 64

    segment = service.create("Forty plus", rule, materialize=True)
    found = service.stub.ListProfileSegments(
        pb.ListProfileSegmentsRequest(
            identifier=types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value="u25")
        ),
        metadata=metadata(),
    )
    assert found.profile_id == "p25"
    assert [(s.segment_id, s.name) for s in found.segments] == [(segment.segment_id, "Forty plus")]


def test_privacy_export_and_erasure(service: Service) -> None:
    segment = service.create("Repeat buyers", REPEAT_BUYERS, materialize=True)
    service.producers.publish(
        [
            upserted("p1", user_id="u1", traits={"city": "SH"}, events=orders("a", 1, 2)),
            upserted("p2", user_id="u2", events=orders("b", 1, 2)),
        ]
    )
    service.settle()
    subject = privacy_pb2.DataSubject(
        identifiers=[types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value="u1")]
    )
    bundle = orjson.loads(
        service.privacy.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=subject), metadata=metadata()
        ).bundle_json
    )
    [profile] = bundle["profiles"]
    assert profile["profile_id"] == "p1" and profile["traits"] == {"city": "SH"}
    assert len(profile["event_facts"]) == 2 and len(profile["membership_changes"]) == 1
    assert profile["memberships"][0]["segment_id"] == segment.segment_id

    erased = service.privacy.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=subject), metadata=metadata()
    )
    counts = {e.table: e.rows for e in erased.erased}
    assert counts["seg_event_facts"] == 2 and counts["membership_changes"] == 1
    assert service.member_ids(segment.segment_id) == {"p2"}
    left = service.stub.GetSegment(
        pb.GetSegmentRequest(segment_id=segment.segment_id), metadata=metadata()
    ).segment
    assert left.member_count == 1
    again = orjson.loads(
        service.privacy.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=subject), metadata=metadata()
        ).bundle_json
    )
    assert again == {"profiles": []}
    assert all(c.profile_id != "p1" for c in service.changes())


def test_retention_expires_event_facts_and_membership_history(service: Service) -> None:
    service.producers.publish([upserted("p1", user_id="u1", events=orders("a", 1, 200))])
    service.settle()
    from precis.common.v1 import privacy_pb2 as ppb
    from precis_common.feed import to_timestamp

    result = service.privacy.ApplyRetention(
        ppb.ApplyRetentionRequest(
            data_kind="raw_events", default_cutoff=to_timestamp(NOW - timedelta(days=100))
        ),
        metadata=metadata("system"),
    )
    assert result.held and {e.table: e.rows for e in result.erased} == {"seg_event_facts": 1}
    other = service.privacy.ApplyRetention(
        ppb.ApplyRetentionRequest(data_kind="training_data", default_cutoff=to_timestamp(NOW)),
        metadata=metadata("system"),
    )
    assert not other.held


def test_a_nul_character_in_data_does_not_stop_the_read_model(service: Service) -> None:
    """PostgreSQL's jsonb cannot hold U+0000; it is removed from strings on both databases, so
    the consumer keeps going and a rule gives the same answer on each."""
    segment = service.create(
        "Shanghai", {"field": "traits.city", "op": "=", "value": "Shanghai"}, materialize=True
    )
    service.producers.publish(
        [
            upserted(
                "p1",
                user_id="u1",
                traits={"city": "Shang\x00hai", "no\x00te": ["a\x00"]},
                events=[("n-1", ORDER, NOW, {"revenue": 5, "sku": "x\x00y"})],
            ),
            upserted("p2", user_id="u2", traits={"city": "Beijing"}),
        ]
    )
    service.settle()
    assert service.member_ids(segment.segment_id) == {"p1"}


def test_an_estimate_too_expensive_for_the_workspace_is_refused(
    service: Service, database_backend: str
) -> None:
    """On PostgreSQL ad-hoc evaluations run under a statement timeout and a rule that runs past
    it is refused with the reason (SQLite, embedded and single-user, has none)."""
    from sqlalchemy import text

    from precis_common.errors import FailedPrecondition
    from precis_segmentation.segments import SegmentStore

    store = SegmentStore(service.app.database, service.app.memberships, query_timeout_s=0.05)
    if database_backend == "postgresql":
        with (
            pytest.raises(FailedPrecondition, match="too expensive"),
            service.app.database.read() as session,
            store._time_limit(session),
        ):
            session.execute(text("SELECT pg_sleep(1)"))
    with service.app.database.read() as session, store._time_limit(session):
        assert session.execute(text("SELECT 1")).scalar_one() == 1
