"""gRPC transport of the recommendation service: request validation (every error names its
field) and conversion to and from the contracts."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
import orjson
from sqlalchemy import select

from precis.common.v1 import privacy_pb2, types_pb2
from precis.consent.v1 import consent_pb2, consent_pb2_grpc
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis.recommendation.v1 import recommendation_pb2 as pb
from precis.recommendation.v1 import recommendation_pb2_grpc
from precis_common.db import Database
from precis_common.errors import InvalidArgument, Violation
from precis_common.feed import to_timestamp
from precis_common.grpc_client import workspace_metadata
from precis_common.grpc_server import workspace_of
from precis_common.identifiers import PiiHasher
from precis_common.privacy import identifier_of, stored_key
from precis_common.privacy_service import SubjectPrivacyServicer
from precis_recommendation.jobs import TrainingJobs
from precis_recommendation.privacy import RecommendationPrivacy
from precis_recommendation.registry import METRICS, Registry, Spec, metric_rows
from precis_recommendation.serving import (
    CONSENT_UNAVAILABLE,
    Catalog,
    ItemFilter,
    NewItem,
    Result,
    Serving,
)
from precis_recommendation.store import rec_identities

log = logging.getLogger(__name__)

SERVICE_NAME = "recommendation"
MAX_ITEMS = 1000
MAX_TITLE, MAX_CATEGORY, MAX_ATTRIBUTES = 1000, 512, 16_384
MAX_NOTE = 2000
MAX_CATEGORIES, MAX_EXCLUDED = 20, 1000
# CheckConsent takes at most 20 identifiers of a subject (the profile id travels beside them).
MAX_CONSENT_IDENTIFIERS = 20

REASONS = {
    "personalized": pb.RECOMMENDATION_REASON_PERSONALIZED,
    "fallback_no_consent": pb.RECOMMENDATION_REASON_FALLBACK_NO_CONSENT,
    "fallback_cold_start": pb.RECOMMENDATION_REASON_FALLBACK_COLD_START,
    "fallback_no_model": pb.RECOMMENDATION_REASON_FALLBACK_NO_MODEL,
    "popular": pb.RECOMMENDATION_REASON_POPULAR,
    "similar": pb.RECOMMENDATION_REASON_SIMILAR,
    CONSENT_UNAVAILABLE: pb.RECOMMENDATION_REASON_FALLBACK_CONSENT_UNAVAILABLE,
}
JOB_STATES = {
    "queued": pb.TRAINING_JOB_STATE_QUEUED,
    "running": pb.TRAINING_JOB_STATE_RUNNING,
    "succeeded": pb.TRAINING_JOB_STATE_SUCCEEDED,
    "failed": pb.TRAINING_JOB_STATE_FAILED,
}
ALGORITHMS = {"als": pb.ALGORITHM_ALS, "bpr": pb.ALGORITHM_BPR}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _k(value: int, field: str = "k") -> int:
    if value == 0:
        return 10
    if not 1 <= value <= 100:
        raise InvalidArgument.field(field, "must be between 1 and 100 (0 means 10)")
    return value


def item_message(row: Any) -> pb.Item:
    return pb.Item(
        item_id=row.item_id,
        title=row.title,
        category=row.category,
        price=float(row.price),
        currency=row.currency,
        available=bool(row.available),
        attributes_json=orjson.dumps(row.attributes or {}),
        updated_at=to_timestamp(_utc(row.updated_at)),
    )


def item_filter(message: pb.ItemFilter, field: str = "filter") -> ItemFilter:
    violations: list[Violation] = []
    if not _finite(message.min_price) or message.min_price < 0:
        violations.append(Violation(f"{field}.min_price", "must be a number >= 0"))
    if not _finite(message.max_price) or message.max_price < 0:
        violations.append(Violation(f"{field}.max_price", "must be a number >= 0"))
    elif message.max_price and message.min_price > message.max_price:
        violations.append(
            Violation(f"{field}.max_price", "must not be below min_price (0 means no bound)")
        )
    if len(message.categories) > MAX_CATEGORIES:
        violations.append(Violation(f"{field}.categories", f"at most {MAX_CATEGORIES}"))
    for i, category in enumerate(message.categories):
        if not category or len(category) > MAX_CATEGORY:
            violations.append(
                Violation(f"{field}.categories[{i}]", f"must be 1..{MAX_CATEGORY} characters")
            )
    if len(message.exclude_item_ids) > MAX_EXCLUDED:
        violations.append(Violation(f"{field}.exclude_item_ids", f"at most {MAX_EXCLUDED}"))
    if violations:
        raise InvalidArgument("invalid filter", violations)
    return ItemFilter(
        exclude_purchased=message.exclude_purchased,
        exclude_seen=message.exclude_seen,
        categories=tuple(message.categories),
        available_only=message.available_only,
        min_price=message.min_price,
        max_price=message.max_price,
        exclude_item_ids=frozenset(message.exclude_item_ids),
    )


def new_items(items: Sequence[pb.Item]) -> list[NewItem]:
    """Validated items; a request with any bad item is refused whole, naming each problem."""
    if not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidArgument.field("items", f"give 1..{MAX_ITEMS} items")
    violations: list[Violation] = []
    out: list[NewItem] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"items[{i}]"
        if not item.item_id or len(item.item_id) > 128 or "\x00" in item.item_id:
            violations.append(Violation(f"{at}.item_id", "must be 1..128 characters"))
        elif item.item_id in seen:
            violations.append(Violation(f"{at}.item_id", "appears twice in the request"))
        seen.add(item.item_id)
        if len(item.title) > MAX_TITLE:
            violations.append(Violation(f"{at}.title", f"at most {MAX_TITLE} characters"))
        if len(item.category) > MAX_CATEGORY:
            violations.append(Violation(f"{at}.category", f"at most {MAX_CATEGORY} characters"))
        if not _finite(item.price) or item.price < 0:
            violations.append(Violation(f"{at}.price", "must not be negative"))
        if item.currency and not (
            len(item.currency) == 3 and item.currency.isascii() and item.currency.isupper()
        ):
            violations.append(
                Violation(f"{at}.currency", "must be an ISO 4217 code like CNY (or empty)")
            )
        attributes: Any = {}
        if item.attributes_json:
            if len(item.attributes_json) > MAX_ATTRIBUTES:
                violations.append(
                    Violation(f"{at}.attributes_json", f"at most {MAX_ATTRIBUTES} bytes")
                )
            else:
                try:
                    attributes = orjson.loads(item.attributes_json)
                except orjson.JSONDecodeError:
                    attributes = None
                if not isinstance(attributes, dict):
                    violations.append(Violation(f"{at}.attributes_json", "must be a JSON object"))
        if not violations:
            out.append(
                NewItem(
                    item_id=item.item_id,
                    title=item.title.replace("\x00", ""),
                    category=item.category.replace("\x00", ""),
                    price=item.price,
                    currency=item.currency,
                    available=item.available,
                    attributes=attributes,
                )
            )
    if violations:
        raise InvalidArgument("invalid items; nothing was written", violations)
    return out


def training_spec(request: pb.TrainModelRequest) -> Spec:
    violations: list[Violation] = []
    algorithm = {
        pb.ALGORITHM_UNSPECIFIED: "als",
        pb.ALGORITHM_ALS: "als",
        pb.ALGORITHM_BPR: "bpr",
    }.get(request.algorithm)
    if algorithm is None:
        violations.append(Violation("algorithm", "must be ALGORITHM_ALS or ALGORITHM_BPR"))
        algorithm = "als"
    h = request.hyperparameters
    defaults = Spec(
        algorithm=algorithm,
        iterations=100 if algorithm == "bpr" else 15,
        regularization=0.01 if algorithm == "bpr" else 0.05,
    )

    def bounded(value: float, field: str, low: float, high: float, default: float) -> float:
        if not _finite(value) or not (value == 0 or low <= value <= high):
            violations.append(
                Violation(field, f"must be between {low:g} and {high:g} (0: default)")
            )
            return default
        return value or default

    factors = int(bounded(h.factors, "hyperparameters.factors", 1, 512, defaults.factors))
    regularization = bounded(
        h.regularization, "hyperparameters.regularization", 1e-9, 1e3, defaults.regularization
    )
    iterations = int(
        bounded(h.iterations, "hyperparameters.iterations", 1, 500, defaults.iterations)
    )
    alpha = bounded(h.alpha, "hyperparameters.alpha", 1e-6, 1e4, defaults.alpha)
    learning_rate = bounded(
        h.learning_rate, "hyperparameters.learning_rate", 1e-9, 10, defaults.learning_rate
    )
    w = request.weights
    view = bounded(w.view, "weights.view", 1e-6, 1e3, defaults.view)
    cart = bounded(w.add_to_cart, "weights.add_to_cart", 1e-6, 1e3, defaults.cart)
    purchase = bounded(w.purchase, "weights.purchase", 1e-6, 1e3, defaults.purchase)
    half_life = defaults.half_life_days
    if request.HasField("weights"):
        if not _finite(w.half_life_days) or not 0 <= w.half_life_days <= 3650:
            violations.append(
                Violation("weights.half_life_days", "must be between 0 (no decay) and 3650")
            )
        else:
            half_life = w.half_life_days
    history_days = int(
        bounded(request.history_days, "history_days", 1, 3650, defaults.history_days)
    )
    test_days = int(bounded(request.test_days, "test_days", 1, 90, defaults.test_days))
    if not _finite(request.test_fraction) or not 0 <= request.test_fraction < 1:
        violations.append(Violation("test_fraction", "must be 0 (time split) or between 0 and 1"))
    if not 0 <= request.k <= 100:
        violations.append(Violation("k", "must be between 1 and 100 (0 means 10)"))
    if not 0 <= request.seed < 2**32:
        violations.append(Violation("seed", "must be between 0 and 4294967295"))
    if len(request.note) > MAX_NOTE:
        violations.append(Violation("note", f"at most {MAX_NOTE} characters"))
    if violations:
        raise InvalidArgument("invalid training request", violations)
    return Spec(
        algorithm=algorithm,
        factors=factors,
        regularization=regularization,
        iterations=iterations,
        alpha=alpha,
        learning_rate=learning_rate,
        view=view,
        cart=cart,
        purchase=purchase,
        half_life_days=half_life,
        history_days=history_days,
        test_days=test_days,
        test_fraction=request.test_fraction,
        k=request.k or 10,
        seed=request.seed,
        note=request.note,
    )


def job_message(row: Any) -> pb.TrainingJob:
    job = pb.TrainingJob(
        job_id=row.job_id,
        state=JOB_STATES[row.state],
        stage=row.stage,
        progress=float(row.progress),
        error=row.error,
        model_version=int(row.model_version or 0),
        created_at=to_timestamp(_utc(row.created_at)),
    )
    if row.started_at is not None:
        job.started_at.CopyFrom(to_timestamp(_utc(row.started_at)))
    if row.finished_at is not None:
        job.finished_at.CopyFrom(to_timestamp(_utc(row.finished_at)))
    return job


def _metrics_message(data: dict[str, Any]) -> pb.OfflineMetrics:
    return pb.OfflineMetrics(
        k=int(data.get("k", 0)), **{m: float(data.get(m, 0.0)) for m in METRICS}
    )


def version_message(row: Any, serving: int, promoted: dict[int, datetime]) -> pb.ModelVersion:
    spec = Spec.from_json(row.hyperparameters)
    data = row.training_data
    version = int(row.version)
    status = (
        pb.MODEL_VERSION_STATUS_SERVING
        if version == serving
        else pb.MODEL_VERSION_STATUS_RETIRED
        if version in promoted
        else pb.MODEL_VERSION_STATUS_CANDIDATE
    )
    training = pb.TrainingData(
        history_start=to_timestamp(datetime.fromisoformat(data["history_start"])),
        history_end=to_timestamp(datetime.fromisoformat(data["history_end"])),
        users=int(data["users"]),
        items=int(data["items"]),
        interactions=int(data["interactions"]),
        test_users=int(data["test_users"]),
        events_feed_seq=int(data["events_feed_seq"]),
        weights=pb.InteractionWeights(
            view=spec.view,
            add_to_cart=spec.cart,
            purchase=spec.purchase,
            half_life_days=spec.half_life_days,
        ),
    )
    if data.get("test_start"):
        training.test_start.CopyFrom(to_timestamp(datetime.fromisoformat(data["test_start"])))
    message = pb.ModelVersion(
        version=version,
        status=status,
        algorithm=ALGORITHMS[spec.algorithm],
        hyperparameters=pb.Hyperparameters(
            factors=spec.factors,
            regularization=spec.regularization,
            iterations=spec.iterations,
            alpha=spec.alpha,
            learning_rate=spec.learning_rate,
        ),
        seed=int(row.seed),
        training_data=training,
        metrics=_metrics_message(row.metrics),
        baseline_metrics=_metrics_message(row.baseline_metrics),
        job_id=row.job_id,
        note=row.note,
        created_at=to_timestamp(_utc(row.created_at)),
    )
    if version in promoted:
        message.promoted_at.CopyFrom(to_timestamp(_utc(promoted[version])))
    return message


def _scored(items: Sequence[tuple[Any, float]]) -> list[pb.ScoredItem]:
    return [pb.ScoredItem(item=item_message(row), score=float(score)) for row, score in items]


class RecommendationServicer(recommendation_pb2_grpc.RecommendationServiceServicer):
    def __init__(
        self,
        database: Database,
        hasher: PiiHasher,
        serving: Serving,
        registry: Registry,
        jobs: TrainingJobs,
        profile_channel: grpc.Channel,
        consent_channel: grpc.Channel,
        *,
        deadline_s: float = 2.0,
    ) -> None:
        self.db = database
        self.hasher = hasher
        self.serving = serving
        self.catalog = Catalog(database)
        self.registry = registry
        self.jobs = jobs
        self.profiles = profile_pb2_grpc.ProfileServiceStub(profile_channel)
        self.consent = consent_pb2_grpc.ConsentServiceStub(consent_channel)
        self.deadline_s = deadline_s

    # ---- catalog -------------------------------------------------------------------------

    def UpsertItems(
        self, request: pb.UpsertItemsRequest, context: grpc.ServicerContext
    ) -> pb.UpsertItemsResponse:
        workspace = workspace_of(context)
        items = new_items(request.items)
        created, updated = self.catalog.upsert(workspace, items)
        self.serving.popular_cache.forget([workspace])
        return pb.UpsertItemsResponse(created=created, updated=updated)

    def GetItems(
        self, request: pb.GetItemsRequest, context: grpc.ServicerContext
    ) -> pb.GetItemsResponse:
        workspace = workspace_of(context)
        if not 1 <= len(request.item_ids) <= MAX_ITEMS:
            raise InvalidArgument.field("item_ids", f"give 1..{MAX_ITEMS} item ids")
        found = self.catalog.get(workspace, list(request.item_ids))
        return pb.GetItemsResponse(
            items=[item_message(found[i]) for i in dict.fromkeys(request.item_ids) if i in found],
            missing_item_ids=[i for i in dict.fromkeys(request.item_ids) if i not in found],
        )

    def ListItems(
        self, request: pb.ListItemsRequest, context: grpc.ServicerContext
    ) -> pb.ListItemsResponse:
        workspace = workspace_of(context)
        if not 0 <= request.page_size <= 1000:
            raise InvalidArgument.field("page_size", "must be between 1 and 1000 (0 means 100)")
        if len(request.category) > MAX_CATEGORY:
            raise InvalidArgument.field("category", f"at most {MAX_CATEGORY} characters")
        rows, more = self.catalog.list(
            workspace,
            category=request.category,
            available_only=request.available_only,
            after=request.page_token,
            limit=request.page_size or 100,
        )
        return pb.ListItemsResponse(
            items=[item_message(r) for r in rows],
            next_page_token=rows[-1].item_id if more and rows else "",
        )

    # ---- training and registry -----------------------------------------------------------

    def TrainModel(
        self, request: pb.TrainModelRequest, context: grpc.ServicerContext
    ) -> pb.TrainModelResponse:
        workspace = workspace_of(context)
        spec = training_spec(request)
        return pb.TrainModelResponse(job=job_message(self.jobs.submit(workspace, spec)))

    def GetTrainingJob(
        self, request: pb.GetTrainingJobRequest, context: grpc.ServicerContext
    ) -> pb.GetTrainingJobResponse:
        workspace = workspace_of(context)
        if not request.job_id or len(request.job_id) > 64:
            raise InvalidArgument.field("job_id", "must be 1..64 characters")
        return pb.GetTrainingJobResponse(job=job_message(self.jobs.get(workspace, request.job_id)))

    def ListModelVersions(
        self, request: pb.ListModelVersionsRequest, context: grpc.ServicerContext
    ) -> pb.ListModelVersionsResponse:
        workspace = workspace_of(context)
        if not 0 <= request.page_size <= 100:
            raise InvalidArgument.field("page_size", "must be between 1 and 100 (0 means 20)")
        offset = 0
        if request.page_token:
            if not request.page_token.isdigit():
                raise InvalidArgument.field("page_token", "is not a token this service gave")
            offset = int(request.page_token)
        limit = request.page_size or 20
        rows, serving, promoted, more = self.registry.versions(
            workspace, offset=offset, limit=limit
        )
        return pb.ListModelVersionsResponse(
            versions=[version_message(r, serving, promoted) for r in rows],
            next_page_token=str(offset + limit) if more else "",
            serving_version=serving,
        )

    def _version(self, workspace: str, version: int, field: str = "version") -> pb.ModelVersion:
        if version < 1:
            raise InvalidArgument.field(field, "must be a version number (1 or more)")
        row, serving, promoted = self.registry.version(workspace, version)
        return version_message(row, serving, promoted)

    def GetModelVersion(
        self, request: pb.GetModelVersionRequest, context: grpc.ServicerContext
    ) -> pb.GetModelVersionResponse:
        return pb.GetModelVersionResponse(
            version=self._version(workspace_of(context), request.version)
        )

    def PromoteModelVersion(
        self, request: pb.PromoteModelVersionRequest, context: grpc.ServicerContext
    ) -> pb.PromoteModelVersionResponse:
        workspace = workspace_of(context)
        if request.version < 1:
            raise InvalidArgument.field("version", "must be a version number (1 or more)")
        previous = self.registry.promote(workspace, request.version)
        return pb.PromoteModelVersionResponse(
            serving=self._version(workspace, request.version), previous_version=previous
        )

    def RollbackModelVersion(
        self, request: pb.RollbackModelVersionRequest, context: grpc.ServicerContext
    ) -> pb.RollbackModelVersionResponse:
        workspace = workspace_of(context)
        serving, rolled_back = self.registry.rollback(workspace)
        return pb.RollbackModelVersionResponse(
            serving=self._version(workspace, serving), rolled_back_version=rolled_back
        )

    def CompareModelVersions(
        self, request: pb.CompareModelVersionsRequest, context: grpc.ServicerContext
    ) -> pb.CompareModelVersionsResponse:
        workspace = workspace_of(context)
        base_row, serving, promoted = self.registry.version(
            workspace, _positive(request.base_version, "base_version")
        )
        candidate_row, _, _ = self.registry.version(
            workspace, _positive(request.candidate_version, "candidate_version")
        )
        same = all(
            base_row.training_data.get(key) == candidate_row.training_data.get(key)
            for key in ("history_start", "history_end", "test_start", "split", "test_fraction")
        ) and base_row.metrics.get("k") == candidate_row.metrics.get("k")
        return pb.CompareModelVersionsResponse(
            base=version_message(base_row, serving, promoted),
            candidate=version_message(candidate_row, serving, promoted),
            metrics=[
                pb.MetricComparison(
                    metric=name,
                    base=b,
                    candidate=c,
                    difference=d,
                    relative_difference=r,
                )
                for name, b, c, d, r in metric_rows(base_row.metrics, candidate_row.metrics)
            ],
            same_split=same,
        )

    # ---- serving -------------------------------------------------------------------------

    def _resolve(
        self, workspace: str, request: pb.RecommendRequest
    ) -> tuple[str, list[types_pb2.Identifier]]:
        """(profile id or "" when unknown, the identifiers to ask the consent service with)."""
        which = request.WhichOneof("profile")
        if which is None:
            raise InvalidArgument.field("profile", "give an identifier or the profile_id")
        if which == "profile_id":
            if len(request.profile_id) > 64 or not request.profile_id:
                raise InvalidArgument.field("profile_id", "must be 1..64 characters")
            return request.profile_id, []
        identifier = request.identifier
        key = stored_key(self.hasher, workspace, identifier, field="identifier")
        try:
            found = self.profiles.GetProfile(
                profile_pb2.GetProfileRequest(identifier=identifier),
                timeout=self.deadline_s,
                metadata=workspace_metadata(workspace),
            )
            return found.profile.profile_id, [identifier]
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code == grpc.StatusCode.NOT_FOUND:
                return "", []
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument.field("identifier", exc.details() or "invalid") from exc
            # The profile service does not answer: the identity graph as last read from its
            # feed decides (it lags by the consumer's delay at most).
            log.warning("profile lookup failed (%s); using the local identity map", code)
        with self.db.read() as session:
            pid = session.execute(
                select(rec_identities.c.profile_id).where(
                    rec_identities.c.workspace_id == workspace,
                    rec_identities.c.kind == key[0],
                    rec_identities.c.value == key[1],
                )
            ).scalar_one_or_none()
        return pid or "", [identifier]

    def _consent(
        self, workspace: str, profile_id: str, given: list[types_pb2.Identifier]
    ) -> Callable[[], bool | None]:
        def check() -> bool | None:
            with self.db.read() as session:
                keys = session.execute(
                    select(rec_identities.c.kind, rec_identities.c.value).where(
                        rec_identities.c.workspace_id == workspace,
                        rec_identities.c.profile_id == profile_id,
                    )
                ).all()
            subject = privacy_pb2.DataSubject(
                identifiers=[*given, *(identifier_of((k, v)) for k, v in sorted(keys))][
                    :MAX_CONSENT_IDENTIFIERS
                ],
                profile_id=profile_id,
            )
            try:
                answer = self.consent.CheckConsent(
                    consent_pb2.CheckConsentRequest(
                        subject=subject, purposes=[consent_pb2.PURPOSE_PERSONALIZATION]
                    ),
                    timeout=self.deadline_s,
                    metadata=workspace_metadata(workspace),
                )
            except grpc.RpcError as exc:
                log.warning("consent check failed: %s", exc.code() if hasattr(exc, "code") else exc)
                return None
            return any(
                d.allowed
                for d in answer.decisions
                if d.purpose == consent_pb2.PURPOSE_PERSONALIZATION
            )

        return check

    def Recommend(
        self, request: pb.RecommendRequest, context: grpc.ServicerContext
    ) -> pb.RecommendResponse:
        workspace = workspace_of(context)
        k = _k(request.k)
        filters = item_filter(request.filter)
        if len(request.fallback_segment_id) > 64:
            raise InvalidArgument.field("fallback_segment_id", "at most 64 characters")
        profile_id, identifiers = self._resolve(workspace, request)
        result: Result = self.serving.recommend(
            workspace,
            profile_id,
            k=k,
            item_filter=filters,
            fallback_segment_id=request.fallback_segment_id,
            consent=self._consent(workspace, profile_id, identifiers),
        )
        return pb.RecommendResponse(
            items=_scored(result.items),
            reason=REASONS[result.reason],
            model_version=result.model_version,
            profile_id=result.profile_id,
        )

    def SimilarItems(
        self, request: pb.SimilarItemsRequest, context: grpc.ServicerContext
    ) -> pb.SimilarItemsResponse:
        workspace = workspace_of(context)
        if not request.item_id or len(request.item_id) > 128:
            raise InvalidArgument.field("item_id", "must be 1..128 characters")
        k = _k(request.k)
        filters = item_filter(request.filter)
        items, version = self.serving.similar(workspace, request.item_id, k=k, item_filter=filters)
        return pb.SimilarItemsResponse(
            items=_scored(items),
            model_version=version,
            reason=pb.RECOMMENDATION_REASON_SIMILAR,
        )

    def PopularItems(
        self, request: pb.PopularItemsRequest, context: grpc.ServicerContext
    ) -> pb.PopularItemsResponse:
        workspace = workspace_of(context)
        k = _k(request.k)
        filters = item_filter(request.filter)
        if len(request.segment_id) > 64:
            raise InvalidArgument.field("segment_id", "at most 64 characters")
        if not 0 <= request.window_days <= 365:
            raise InvalidArgument.field("window_days", "must be between 1 and 365 (0 means 30)")
        result = self.serving.popular(
            workspace,
            segment_id=request.segment_id,
            k=k,
            item_filter=ItemFilter(
                categories=filters.categories,
                available_only=filters.available_only,
                min_price=filters.min_price,
                max_price=filters.max_price,
                exclude_item_ids=filters.exclude_item_ids,
            ),
            window_days=request.window_days or 30,
        )
        return pb.PopularItemsResponse(
            items=_scored(result.items),
            reason=pb.RECOMMENDATION_REASON_POPULAR,
            fell_back_to_global=result.fell_back_to_global,
            interactions=result.interactions,
        )


def _positive(value: int, field: str) -> int:
    if value < 1:
        raise InvalidArgument.field(field, "must be a version number (1 or more)")
    return value


class RecommendationPrivacyServicer(SubjectPrivacyServicer):
    def __init__(self, privacy: RecommendationPrivacy, hasher: PiiHasher) -> None:
        super().__init__(SERVICE_NAME, privacy, hasher)
