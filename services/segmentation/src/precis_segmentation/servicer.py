"""gRPC transport of the segmentation service: request validation and conversion to and from the
contracts. Every error names the field it is about; a refused rule names the JSON path inside
`rule_json` (for example `rule_json.all[1].value`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import grpc
import orjson
from sqlalchemy import select

from precis.segmentation.v1 import segmentation_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2_grpc
from precis_common.errors import InvalidArgument, NotFound
from precis_common.feed import to_timestamp
from precis_common.grpc_server import workspace_of
from precis_common.identifiers import IdentifierKind, PiiHasher, mask_hash
from precis_common.privacy import identifier_of, stored_key
from precis_common.privacy_service import SubjectPrivacyServicer
from precis_segmentation.builtin import (
    CLUSTERING,
    PREDICTIVE_KINDS,
    ClusteringParameters,
    Families,
    PredictiveParameters,
)
from precis_segmentation.families.features import validate_features
from precis_segmentation.privacy import SegmentationPrivacy
from precis_segmentation.rules import (
    Condition,
    EventCondition,
    FieldCondition,
    walk,
)
from precis_segmentation.segments import (
    CHANNEL_PURPOSES,
    FAMILIES,
    FAMILY_IDS,
    NewSegment,
    SegmentStore,
    decode_rule,
)
from precis_segmentation.store import seg_identities, seg_profiles

SERVICE_NAME = "segmentation"
DEFAULT_PAGE, MAX_PAGE = 50, 500
DEFAULT_SCORES_PAGE, MAX_SCORES_PAGE = 1000, 10_000
DEFAULT_MEMBERS_PAGE, MAX_MEMBERS_PAGE = 500, 5000
DEFAULT_SAMPLE, MAX_SAMPLE = 20, 100
MAX_DESCRIPTION = 2000
EXPORT_COLUMNS = ("profile_id", "user_id", "anonymous_id", "email_hash", "phone_hash", "entered_at")
MAX_EXPORT_COLUMNS = 50


def segment_message(row: Any) -> pb.Segment:
    message = pb.Segment(
        segment_id=row.segment_id,
        name=row.name,
        description=row.description,
        rule_json=orjson.dumps(row.rule),
        family=FAMILY_IDS.get(row.family, pb.SEGMENT_FAMILY_RULE),  # type: ignore[arg-type]
        version=int(row.version),
        refresh_interval_seconds=int(row.refresh_interval_seconds),
        member_count=int(row.member_count),
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
        origin=row.origin,
    )
    if row.refreshed_at is not None:
        message.refreshed_at.CopyFrom(to_timestamp(row.refreshed_at))
    return message


def _page(size: int, default: int, maximum: int, field: str = "page_size") -> int:
    if not 0 <= size <= maximum:
        raise InvalidArgument.field(field, f"must be between 1 and {maximum} (0 means {default})")
    return size or default


def _required(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument.field(field, "is required")


def _channel(value: int, field: str = "channel") -> int:
    if value not in CHANNEL_PURPOSES:
        raise InvalidArgument.field(field, "unknown channel")
    return value


def _description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise InvalidArgument.field("description", f"must be at most {MAX_DESCRIPTION} characters")
    return text


def referenced_fields(rule: Condition) -> tuple[set[str], set[str]]:
    """The traits and computed traits a rule refers to (what a preview shows)."""
    traits: set[str] = set()
    computed: set[str] = set()
    for node in walk(rule):
        if isinstance(node, FieldCondition) and node.source in ("traits", "computed"):
            (traits if node.source == "traits" else computed).add(node.name)
        if isinstance(node, EventCondition):
            computed.update(("last_seen",))
    return traits, computed


class SegmentationServicer(segmentation_pb2_grpc.SegmentationServiceServicer):
    def __init__(self, store: SegmentStore, hasher: PiiHasher, families: Families) -> None:
        self._store = store
        self._hasher = hasher
        self._families = families

    # ---- definitions ----------------------------------------------------------------------

    def CreateSegment(
        self, request: pb.CreateSegmentRequest, context: grpc.ServicerContext
    ) -> pb.CreateSegmentResponse:
        workspace = workspace_of(context)
        row, _ = self._store.create(
            workspace,
            NewSegment(
                name=request.name,
                description=_description(request.description),
                rule_doc=decode_rule(request.rule_json, "rule_json"),
                refresh_interval_seconds=request.refresh_interval_seconds,
                materialize=request.materialize,
            ),
        )
        return pb.CreateSegmentResponse(segment=segment_message(row))

    def UpdateSegment(
        self, request: pb.UpdateSegmentRequest, context: grpc.ServicerContext
    ) -> pb.UpdateSegmentResponse:
        workspace = workspace_of(context)
        _required(request.segment_id, "segment_id")
        if request.expected_version < 0:
            raise InvalidArgument.field("expected_version", "must be >= 0")
        row = self._store.update(
            workspace,
            request.segment_id,
            name=request.name if request.HasField("name") else None,
            description=_description(request.description)
            if request.HasField("description")
            else None,
            rule_doc=decode_rule(request.rule_json, "rule_json")
            if request.HasField("rule_json")
            else None,
            refresh_interval_seconds=request.refresh_interval_seconds
            if request.HasField("refresh_interval_seconds")
            else None,
            expected_version=request.expected_version,
        )
        return pb.UpdateSegmentResponse(segment=segment_message(row))

    def DeleteSegment(
        self, request: pb.DeleteSegmentRequest, context: grpc.ServicerContext
    ) -> pb.DeleteSegmentResponse:
        workspace = workspace_of(context)
        _required(request.segment_id, "segment_id")
        return pb.DeleteSegmentResponse(
            exited_count=self._store.delete(workspace, request.segment_id)
        )

    def GetSegment(
        self, request: pb.GetSegmentRequest, context: grpc.ServicerContext
    ) -> pb.GetSegmentResponse:
        workspace = workspace_of(context)
        _required(request.segment_id, "segment_id")
        return pb.GetSegmentResponse(
            segment=segment_message(self._store.get(workspace, request.segment_id))
        )

    def ListSegments(
        self, request: pb.ListSegmentsRequest, context: grpc.ServicerContext
    ) -> pb.ListSegmentsResponse:
        workspace = workspace_of(context)
        if request.family and request.family not in FAMILIES:
            raise InvalidArgument.field("family", "unknown segment family")
        rows, token = self._store.list_segments(
            workspace,
            FAMILIES.get(request.family) if request.family else None,
            _page(request.page_size, DEFAULT_PAGE, MAX_PAGE),
            request.page_token,
        )
        return pb.ListSegmentsResponse(
            segments=[segment_message(r) for r in rows], next_page_token=token
        )

    # ---- evaluating ----------------------------------------------------------------------

    def _target(self, request: Any) -> tuple[Any | None, str | None]:
        which = request.WhichOneof("target")
        if which == "rule_json":
            return decode_rule(request.rule_json, "rule_json"), None
        if which == "segment_id" and request.segment_id:
            return None, request.segment_id
        raise InvalidArgument.field("rule_json", "give a rule (rule_json) or a segment_id")

    def EstimateSegmentSize(
        self, request: pb.EstimateSegmentSizeRequest, context: grpc.ServicerContext
    ) -> pb.EstimateSegmentSizeResponse:
        workspace = workspace_of(context)
        rule_doc, segment_id = self._target(request)
        channel = _channel(request.channel) if request.channel else None
        counts = self._store.estimate(workspace, rule_doc, segment_id, channel)
        return pb.EstimateSegmentSizeResponse(
            matched_count=counts["matched"],
            total_profiles=counts["total"],
            releasable_count=counts["releasable"],
            exact=True,
        )

    def PreviewSegment(
        self, request: pb.PreviewSegmentRequest, context: grpc.ServicerContext
    ) -> pb.PreviewSegmentResponse:
        workspace = workspace_of(context)
        rule_doc, segment_id = self._target(request)
        size = _page(request.sample_size, DEFAULT_SAMPLE, MAX_SAMPLE, "sample_size")
        rows, matched, rule = self._store.preview(
            workspace, rule_doc, segment_id, size, request.seed
        )
        traits, computed = referenced_fields(rule)
        identifiers = self._identifiers(workspace, [r.profile_id for r in rows])
        profiles = []
        for row in rows:
            shown = {f"traits.{k}": row.traits.get(k) for k in sorted(traits) if k in row.traits}
            shown.update(
                {
                    f"computed.{k}": row.computed.get(k)
                    for k in sorted(computed)
                    if k in row.computed
                }
            )
            profiles.append(
                pb.PreviewProfile(
                    profile_id=row.profile_id,
                    identifiers=identifiers.get(row.profile_id, []),
                    traits_json=orjson.dumps(shown),
                )
            )
        return pb.PreviewSegmentResponse(profiles=profiles, matched_count=matched)

    def _identifiers(self, workspace: str, profile_ids: list[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        if not profile_ids:
            return out
        with self._store.db.read() as session:
            rows = session.execute(
                select(seg_identities).where(
                    seg_identities.c.workspace_id == workspace,
                    seg_identities.c.profile_id.in_(profile_ids),
                )
            ).all()
        for row in sorted(rows, key=lambda r: (r.profile_id, r.kind, r.value)):
            identifier = identifier_of((row.kind, row.value))
            if row.kind in (IdentifierKind.EMAIL.value, IdentifierKind.PHONE.value):
                identifier.value = mask_hash(row.value)
            out.setdefault(row.profile_id, []).append(identifier)
        return out

    # ---- materializing and releasing --------------------------------------------------------

    def RefreshSegment(
        self, request: pb.RefreshSegmentRequest, context: grpc.ServicerContext
    ) -> pb.RefreshSegmentResponse:
        workspace = workspace_of(context)
        _required(request.segment_id, "segment_id")
        row, entered, exited, full = self._store.refresh(
            workspace, request.segment_id, request.full
        )
        return pb.RefreshSegmentResponse(
            segment=segment_message(row), entered_count=entered, exited_count=exited, full=full
        )

    def ListSegmentMembers(
        self, request: pb.ListSegmentMembersRequest, context: grpc.ServicerContext
    ) -> pb.ListSegmentMembersResponse:
        workspace = workspace_of(context)
        _required(request.segment_id, "segment_id")
        row, rows, token, total, suppressed = self._store.members(
            workspace,
            request.segment_id,
            _channel(request.channel),
            _page(request.page_size, DEFAULT_MEMBERS_PAGE, MAX_MEMBERS_PAGE),
            request.page_token,
        )
        response = pb.ListSegmentMembersResponse(
            members=[
                pb.SegmentMember(profile_id=r.profile_id, entered_at=to_timestamp(r.entered_at))
                for r in rows
            ],
            next_page_token=token,
            total_count=total,
            suppressed_count=suppressed,
        )
        if row.refreshed_at is not None:
            response.refreshed_at.CopyFrom(to_timestamp(row.refreshed_at))
        return response

    def ListProfileSegments(
        self, request: pb.ListProfileSegmentsRequest, context: grpc.ServicerContext
    ) -> pb.ListProfileSegmentsResponse:
        workspace = workspace_of(context)
        which = request.WhichOneof("profile")
        if which == "profile_id" and request.profile_id:
            profile_id = request.profile_id
        elif which == "identifier":
            kind, value = stored_key(
                self._hasher, workspace, request.identifier, field="identifier"
            )
            with self._store.db.read() as session:
                found = session.execute(
                    select(seg_identities.c.profile_id).where(
                        seg_identities.c.workspace_id == workspace,
                        seg_identities.c.kind == kind,
                        seg_identities.c.value == value,
                    )
                ).scalar_one_or_none()
            if found is None:
                raise NotFound("no profile has that identifier")
            profile_id = found
        else:
            raise InvalidArgument.field("identifier", "give an identifier or a profile_id")
        rows = self._store.profile_segments(workspace, profile_id)
        return pb.ListProfileSegmentsResponse(
            profile_id=profile_id,
            segments=[
                pb.ProfileSegment(
                    segment_id=r.segment_id, name=r.name, entered_at=to_timestamp(r.entered_at)
                )
                for r in rows
            ],
        )

    def ExportSegment(
        self, request: pb.ExportSegmentRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ExportSegmentResponse]:
        workspace = workspace_of(context)
        _required(request.segment_id, "segment_id")
        channel = _channel(request.channel)
        columns = list(request.columns) or ["profile_id", "user_id"]
        if len(columns) > MAX_EXPORT_COLUMNS:
            raise InvalidArgument.field("columns", f"at most {MAX_EXPORT_COLUMNS}")
        for i, column in enumerate(columns):
            if column not in EXPORT_COLUMNS and not (
                column.startswith("trait:") and 0 < len(column) - 6 <= 64
            ):
                raise InvalidArgument.field(
                    f"columns[{i}]",
                    f"must be one of {', '.join(EXPORT_COLUMNS)} or trait:<name>",
                )
        self._store.get(workspace, request.segment_id)  # NOT_FOUND before streaming starts
        return self._export(workspace, request.segment_id, channel, columns)

    def _export(
        self, workspace: str, segment_id: str, channel: int, columns: list[str]
    ) -> Iterator[pb.ExportSegmentResponse]:
        written = suppressed = 0
        header = True
        pages = self._store.releasable_pages(workspace, segment_id, channel)
        for rows, _total, withheld in pages:
            suppressed = withheld
            buffer = io.StringIO()
            out = csv.writer(buffer, lineterminator="\r\n")
            if header:
                out.writerow(columns)
                header = False
            values = self._export_values(workspace, [r.profile_id for r in rows])
            for r in rows:
                out.writerow([_cell(column, r, values.get(r.profile_id, {})) for column in columns])
            written += len(rows)
            yield pb.ExportSegmentResponse(csv=buffer.getvalue().encode(), row_count=written)
        # The suppressed count is final once every page was read; the empty last chunk says so.
        yield pb.ExportSegmentResponse(row_count=written, suppressed_count=suppressed, last=True)

    def _export_values(self, workspace: str, profile_ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {pid: {} for pid in profile_ids}
        if not profile_ids:
            return out
        with self._store.db.read() as session:
            for row in session.execute(
                select(seg_identities).where(
                    seg_identities.c.workspace_id == workspace,
                    seg_identities.c.profile_id.in_(profile_ids),
                )
            ):
                column = {
                    "email": "email_hash",
                    "phone": "phone_hash",
                    "user_id": "user_id",
                    "anonymous_id": "anonymous_id",
                }.get(row.kind)
                if column is not None:
                    out[row.profile_id].setdefault(column, row.value)
            for row in session.execute(
                select(seg_profiles.c.profile_id, seg_profiles.c.traits).where(
                    seg_profiles.c.workspace_id == workspace,
                    seg_profiles.c.profile_id.in_(profile_ids),
                )
            ):
                out[row.profile_id]["traits"] = row.traits
        return out

    # ---- built-in families -------------------------------------------------------------------

    def GetRfmCells(
        self, request: pb.GetRfmCellsRequest, context: grpc.ServicerContext
    ) -> pb.GetRfmCellsResponse:
        workspace = workspace_of(context)
        cells = self._families.rfm_cells(workspace, request.create_segments)
        return pb.GetRfmCellsResponse(
            cells=[
                pb.RfmCell(
                    name=cell.name,
                    description=cell.definition.description,
                    recency_score_min=cell.definition.recency_min,
                    recency_score_max=cell.definition.recency_max,
                    frequency_monetary_score_min=cell.definition.fm_min,
                    frequency_monetary_score_max=cell.definition.fm_max,
                    profile_count=cell.profile_count,
                    share=cell.share,
                    average_monetary=cell.average_monetary,
                    rule_json=orjson.dumps(cell.rule),
                    segment_id=segment_id,
                )
                for cell, segment_id in cells
            ]
        )

    def StartClusteringJob(
        self, request: pb.StartClusteringJobRequest, context: grpc.ServicerContext
    ) -> pb.StartClusteringJobResponse:
        workspace = workspace_of(context)
        p = request.parameters
        k_min = p.k_min or 2
        k_max = p.k_max or 8
        if not 2 <= k_min <= 20:
            raise InvalidArgument.field("parameters.k_min", "must be between 2 and 20")
        if not k_min <= k_max <= 20:
            raise InvalidArgument.field("parameters.k_max", "must be between k_min and 20")
        if p.max_profiles < 0:
            raise InvalidArgument.field("parameters.max_profiles", "must be >= 0")
        row = self._families.start_clustering(
            workspace,
            ClusteringParameters(
                k_min=k_min,
                k_max=k_max,
                features=_features(p.features, "parameters.features"),
                segment_id=p.segment_id,
                seed=p.seed,
                max_profiles=p.max_profiles or 200_000,
                create_segments=p.create_segments,
            ),
        )
        return pb.StartClusteringJobResponse(job=clustering_job(row))

    def GetClusteringJob(
        self, request: pb.GetClusteringJobRequest, context: grpc.ServicerContext
    ) -> pb.GetClusteringJobResponse:
        workspace = workspace_of(context)
        _required(request.job_id, "job_id")
        row = self._families.get(workspace, request.job_id, (CLUSTERING,))
        return pb.GetClusteringJobResponse(job=clustering_job(row))

    def TrainPredictiveModel(
        self, request: pb.TrainPredictiveModelRequest, context: grpc.ServicerContext
    ) -> pb.TrainPredictiveModelResponse:
        workspace = workspace_of(context)
        p = request.parameters
        kind = KIND_NAMES.get(p.kind)
        if kind is None:
            raise InvalidArgument.field("parameters.kind", "must be PROPENSITY, CHURN or UPLIFT")
        horizon = p.horizon_days or 30
        if kind == "uplift":
            horizon = 0  # the campaign's attribution window decides the outcomes
            if not p.campaign_id:
                raise InvalidArgument.field(
                    "parameters.campaign_id", "an uplift model needs the campaign it learns from"
                )
            if len(p.campaign_id) > 64 or len(p.arm_id) > 64:
                field = "campaign_id" if len(p.campaign_id) > 64 else "arm_id"
                raise InvalidArgument.field(f"parameters.{field}", "at most 64 characters")
            if p.uplift_method not in UPLIFT_METHODS:
                raise InvalidArgument.field("parameters.uplift_method", "unknown uplift method")
        elif p.campaign_id or p.arm_id or p.uplift_method:
            field = "campaign_id" if p.campaign_id else "arm_id" if p.arm_id else "uplift_method"
            raise InvalidArgument.field(f"parameters.{field}", "only for uplift models")
        elif not 1 <= horizon <= 365:
            raise InvalidArgument.field("parameters.horizon_days", "must be between 1 and 365")
        fraction = p.test_fraction or 0.2
        if not 0.05 <= fraction <= 0.5:
            raise InvalidArgument.field("parameters.test_fraction", "must be between 0.05 and 0.5")
        if len(p.name) > 200:
            raise InvalidArgument.field("parameters.name", "must be at most 200 characters")
        if len(p.target_event) > 128:
            raise InvalidArgument.field("parameters.target_event", "must be at most 128 characters")
        features = _features(p.features, "parameters.features")
        try:  # checked now, so that a typo is an error of the request rather than a failed job
            validate_features(features, attributes=True)
        except InvalidArgument as exc:
            v = exc.violations[0]
            raise InvalidArgument.field(f"parameters.{v.field}", v.description) from None
        default_name = f"uplift of campaign {p.campaign_id}" if kind == "uplift" else ""
        row = self._families.train(
            workspace,
            PredictiveParameters(
                kind=kind,
                horizon_days=horizon,
                target_event=p.target_event or "Order Completed",
                cutoff=p.cutoff.ToDatetime(tzinfo=UTC) if p.HasField("cutoff") else None,
                features=features,
                seed=p.seed,
                test_fraction=fraction,
                name=p.name or default_name or f"{kind} in {horizon} days",
                campaign_id=p.campaign_id,
                uplift_method=UPLIFT_METHODS.get(p.uplift_method, "two_model"),
                arm_id=p.arm_id,
            ),
        )
        return pb.TrainPredictiveModelResponse(model=predictive_model(row))

    def GetPredictiveModel(
        self, request: pb.GetPredictiveModelRequest, context: grpc.ServicerContext
    ) -> pb.GetPredictiveModelResponse:
        workspace = workspace_of(context)
        _required(request.model_id, "model_id")
        row = self._families.get(workspace, request.model_id, PREDICTIVE_KINDS)
        return pb.GetPredictiveModelResponse(model=predictive_model(row))

    def ListPredictiveModels(
        self, request: pb.ListPredictiveModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListPredictiveModelsResponse:
        workspace = workspace_of(context)
        if request.kind and request.kind not in KIND_NAMES:
            raise InvalidArgument.field("kind", "unknown prediction kind")
        rows, token = self._families.list_models(
            workspace,
            KIND_NAMES.get(request.kind) if request.kind else None,
            _page(request.page_size, DEFAULT_PAGE, MAX_PAGE),
            request.page_token,
        )
        return pb.ListPredictiveModelsResponse(
            models=[predictive_model(r) for r in rows], next_page_token=token
        )

    def CreatePredictiveAudience(
        self, request: pb.CreatePredictiveAudienceRequest, context: grpc.ServicerContext
    ) -> pb.CreatePredictiveAudienceResponse:
        workspace = workspace_of(context)
        _required(request.model_id, "model_id")
        cut = request.WhichOneof("cut")
        top = min_score = None
        if cut == "top_fraction":
            if not 0 < request.top_fraction <= 1:
                raise InvalidArgument.field("top_fraction", "must be in (0, 1]")
            top = request.top_fraction
        elif cut == "min_score":
            if not -1 <= request.min_score <= 1:
                raise InvalidArgument.field(
                    "min_score", "must be in [0, 1] (a probability; [-1, 1] for an uplift model)"
                )
            min_score = request.min_score
        else:
            raise InvalidArgument.field("top_fraction", "give top_fraction or min_score")
        segment, rate, lift, expected_uplift = self._families.predictive_audience(
            workspace, request.model_id, request.name, top, min_score
        )
        return pb.CreatePredictiveAudienceResponse(
            segment=segment_message(segment),
            expected_rate=rate,
            expected_lift=lift,
            expected_uplift=expected_uplift,
        )

    def ListModelScores(
        self, request: pb.ListModelScoresRequest, context: grpc.ServicerContext
    ) -> pb.ListModelScoresResponse:
        workspace = workspace_of(context)
        _required(request.model_id, "model_id")
        if len(request.page_token) > 64:
            raise InvalidArgument.field("page_token", "not a token of this listing")
        scores, token = self._families.model_scores(
            workspace,
            request.model_id,
            _page(request.page_size, DEFAULT_SCORES_PAGE, MAX_SCORES_PAGE),
            request.page_token,
        )
        return pb.ListModelScoresResponse(
            scores=[pb.ModelScore(profile_id=pid, score=value) for pid, value in scores],
            next_page_token=token,
        )

    def CreateLookalikeAudience(
        self, request: pb.CreateLookalikeAudienceRequest, context: grpc.ServicerContext
    ) -> pb.CreateLookalikeAudienceResponse:
        workspace = workspace_of(context)
        _required(request.seed_segment_id, "seed_segment_id")
        if not 1 <= request.size <= 10_000_000:
            raise InvalidArgument.field("size", "must be between 1 and 10000000")
        segment, quality = self._families.lookalike(
            workspace,
            request.seed_segment_id,
            request.name,
            request.size,
            _features(request.features, "features"),
            request.seed,
        )
        return pb.CreateLookalikeAudienceResponse(
            segment=segment_message(segment),
            quality=pb.LookalikeQuality(
                holdout_size=quality.holdout_size,
                holdout_recall=quality.holdout_recall,
                lift_over_random=quality.lift_over_random,
                similarity_cutoff=quality.similarity_cutoff,
            ),
        )


KIND_NAMES: dict[int, str] = {
    pb.PREDICTION_KIND_PROPENSITY: "propensity",
    pb.PREDICTION_KIND_CHURN: "churn",
    pb.PREDICTION_KIND_UPLIFT: "uplift",
}
KIND_IDS = {v: k for k, v in KIND_NAMES.items()}
UPLIFT_METHODS: dict[int, str] = {
    pb.UPLIFT_METHOD_UNSPECIFIED: "two_model",
    pb.UPLIFT_METHOD_TWO_MODEL: "two_model",
    pb.UPLIFT_METHOD_CLASS_TRANSFORMATION: "class_transformation",
}
UPLIFT_METHOD_IDS = {
    "two_model": pb.UPLIFT_METHOD_TWO_MODEL,
    "class_transformation": pb.UPLIFT_METHOD_CLASS_TRANSFORMATION,
}
JOB_STATES = {
    "queued": pb.JOB_STATE_QUEUED,
    "running": pb.JOB_STATE_RUNNING,
    "succeeded": pb.JOB_STATE_SUCCEEDED,
    "failed": pb.JOB_STATE_FAILED,
}


def _features(names: Any, field: str) -> tuple[str, ...]:
    if len(names) > 32:
        raise InvalidArgument.field(field, "at most 32 features")
    return tuple(names)


def clustering_job(row: Any) -> pb.ClusteringJob:
    p = row.parameters
    job = pb.ClusteringJob(
        job_id=row.model_id,
        state=JOB_STATES[row.state],
        progress=row.progress,
        error=row.error,
        parameters=pb.ClusteringParameters(
            k_min=p["k_min"],
            k_max=p["k_max"],
            features=p["features"],
            segment_id=p["segment_id"],
            seed=p["seed"],
            max_profiles=p["max_profiles"],
            create_segments=p["create_segments"],
        ),
        created_at=to_timestamp(row.created_at),
    )
    if row.finished_at is not None:
        job.finished_at.CopyFrom(to_timestamp(row.finished_at))
    result = row.result or {}
    if result:
        job.chosen_k = result["chosen_k"]
        job.profile_count = result["profile_count"]
        job.silhouettes.extend(
            pb.SilhouetteScore(k=s["k"], silhouette=s["silhouette"]) for s in result["silhouettes"]
        )
        job.clusters.extend(
            pb.Cluster(
                index=c["index"],
                size=c["size"],
                share=c["share"],
                description=c["description"],
                segment_id=c["segment_id"],
                features=[pb.ClusterFeature(**f) for f in c["features"]],
            )
            for c in result["clusters"]
        )
    return job


def predictive_model(row: Any) -> pb.PredictiveModel:
    p = row.parameters
    parameters = pb.PredictiveModelParameters(
        kind=KIND_IDS[p["kind"]],  # type: ignore[arg-type]
        horizon_days=p["horizon_days"],
        target_event=p["target_event"],
        features=p["features"],
        seed=p["seed"],
        test_fraction=p["test_fraction"],
        name=p["name"],
        campaign_id=p.get("campaign_id", ""),
        arm_id=p.get("arm_id", ""),
    )
    if row.kind == "uplift":
        parameters.uplift_method = UPLIFT_METHOD_IDS[p["uplift_method"]]
    parameters.cutoff.FromDatetime(datetime.fromisoformat(p["cutoff"]))
    model = pb.PredictiveModel(
        model_id=row.model_id,
        version=row.version,
        name=row.name,
        kind=KIND_IDS[row.kind],  # type: ignore[arg-type]
        state=JOB_STATES[row.state],
        progress=row.progress,
        error=row.error,
        parameters=parameters,
        created_at=to_timestamp(row.created_at),
    )
    if row.finished_at is not None:
        model.finished_at.CopyFrom(to_timestamp(row.finished_at))
    result = row.result or {}
    if result:
        model.training_rows = result["training_rows"]
        model.test_rows = result["test_rows"]
        model.positive_rate = result["positive_rate"]
        model.feature_importances.update(result["feature_importances"])
        if "uplift" in result:
            u = result["uplift"]
            model.uplift.CopyFrom(
                pb.UpliftModelEvaluation(
                    qini_coefficient=u["qini_coefficient"],
                    auuc=u["auuc"],
                    random_auuc=u["random_auuc"],
                    treated=u["treated"],
                    control=u["control"],
                    average_uplift=u["average_uplift"],
                    uplift_at_k=[pb.UpliftModelAtFraction(**a) for a in u["uplift_at_k"]],
                    deciles=[pb.UpliftModelDecile(**d) for d in u["deciles"]],
                )
            )
        else:
            model.auc = result["auc"]
            model.deciles.extend(pb.LiftDecile(**d) for d in result["deciles"])
    return model


def _cell(column: str, row: Any, values: dict[str, Any]) -> str:
    if column == "profile_id":
        return str(row.profile_id)
    if column == "entered_at":
        moment = row.entered_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return str(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if column.startswith("trait:"):
        value = (values.get("traits") or {}).get(column[6:])
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        return orjson.dumps(value).decode()
    return str(values.get(column, ""))


class SegmentationPrivacyServicer(SubjectPrivacyServicer):
    def __init__(self, privacy: SegmentationPrivacy, hasher: PiiHasher) -> None:
        super().__init__(SERVICE_NAME, privacy, hasher)
