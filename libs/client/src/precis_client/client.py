"""Synchronous client of the Precis REST gateway.

Retries are safe only where repeating a request cannot do anything twice: reads, writes whose
every event carries a ``message_id`` (ingestion deduplicates by it), and writes named by a
``request_id`` (consent records; data-subject requests, which the client names itself). Only
answers that say "try again" (503, 504) and lost connections or timeouts are retried, with
exponential backoff and jitter; the gateway's ``Retry-After`` is honoured up to ``backoff_max``.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from precis_client.errors import PrecisError, error_from_response
from precis_client.models import (
    BatchEvent,
    BatchResult,
    HealthStatus,
    IdentifyEvent,
    IngestResult,
    Profile,
    ProfilePage,
    Timestamp,
    TrackEvent,
    batch_item_json,
    format_timestamp,
)

# Query parameters: a list value is sent as the parameter repeated (category=a&category=b).
Params = Mapping[str, str | int | float | Sequence[str]]

USER_AGENT = "precis-client/0.1.0"
RETRIED_STATUSES = frozenset({503, 504})
DEFAULT_TIMEOUT = 30.0


def _segment_path(segment_id: str) -> str:
    if not segment_id:
        raise ValueError("segment_id must not be empty")
    return f"/v1/segments/{quote(segment_id, safe='')}"


def _model_path(model_id: str) -> str:
    if not model_id:
        raise ValueError("model_id must not be empty")
    return f"/v1/predictive-models/{quote(model_id, safe='')}"


def _item_path(item_id: str) -> str:
    if not item_id:
        raise ValueError("item_id must not be empty")
    return f"/v1/catalog/items/{quote(item_id, safe='')}"


def _campaign_path(campaign_id: str) -> str:
    return f"/v1/campaigns/{quote(campaign_id, safe='')}"


def _report_params(as_of: Timestamp | None, confidence_level: float | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if as_of is not None:
        params["as_of"] = format_timestamp(as_of)
    if confidence_level is not None:
        params["confidence_level"] = confidence_level
    return params


def _version_path(version: int) -> str:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError("version must be a model version number (1 or more)")
    return f"/v1/recommendation-models/{version}"


def _item_filter(
    *,
    categories: Sequence[str] | None,
    available_only: bool,
    min_price: float | None,
    max_price: float | None,
    exclude: Sequence[str] | None,
) -> dict[str, str | int | float | Sequence[str]]:
    """The query parameters of the item restrictions the serving routes share."""
    if isinstance(categories, str) or isinstance(exclude, str):
        raise ValueError("categories and exclude are lists of strings")
    params: dict[str, str | int | float | Sequence[str]] = {}
    if categories:
        params["category"] = list(categories)
    if available_only:
        params["available_only"] = "true"
    if min_price is not None:
        params["min_price"] = min_price
    if max_price is not None:
        params["max_price"] = max_price
    if exclude:
        params["exclude"] = list(exclude)
    return params


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date: rare for APIs, and our own backoff is a fine substitute
    return max(seconds, 0.0)


class PrecisClient:
    """Client of the Precis REST API (``/v1``), authenticated by a workspace API key.

    Use it as a context manager, or call :meth:`close`. It is safe to share between threads
    (httpx.Client is). ``transport`` replaces the network (``httpx.MockTransport`` in tests).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.25,
        backoff_max: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={
                "X-API-Key": api_key,
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
        )

    def __enter__(self) -> PrecisClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # Events ---------------------------------------------------------------------------------

    def track(
        self,
        event: str,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp | None = None,
        sent_at: Timestamp | None = None,
        message_id: str | None = None,
    ) -> IngestResult:
        """Records an action. Pass ``message_id`` to make the call retryable and deduplicated."""
        body = TrackEvent(
            event=event,
            user_id=user_id,
            anonymous_id=anonymous_id,
            properties=properties,
            context=context,
            timestamp=timestamp,
            sent_at=sent_at,
            message_id=message_id,
        ).to_json()
        response = self._request("POST", "/v1/track", json=body, retryable=message_id is not None)
        return IngestResult.from_json(self._json(response))

    def identify(
        self,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp | None = None,
        sent_at: Timestamp | None = None,
        message_id: str | None = None,
    ) -> IngestResult:
        """Links identifiers and sets traits. ``message_id`` makes the call retryable."""
        body = IdentifyEvent(
            user_id=user_id,
            anonymous_id=anonymous_id,
            traits=traits,
            context=context,
            timestamp=timestamp,
            sent_at=sent_at,
            message_id=message_id,
        ).to_json()
        response = self._request(
            "POST", "/v1/identify", json=body, retryable=message_id is not None
        )
        return IngestResult.from_json(self._json(response))

    def batch(self, events: Sequence[BatchEvent | Mapping[str, Any]]) -> BatchResult:
        """Sends up to 500 events in one request; each gets its own result.

        Events are :class:`TrackEvent` / :class:`IdentifyEvent`, or plain mappings that already
        carry ``type``. The request is retried only when every event has a ``message_id``.
        """
        items = [batch_item_json(event) for event in events]
        retryable = all(item.get("message_id") for item in items)
        response = self._request("POST", "/v1/batch", json={"batch": items}, retryable=retryable)
        return BatchResult.from_json(self._json(response))

    # Profiles -------------------------------------------------------------------------------

    def get_profile(self, identifier_type: str, value: str) -> Profile:
        """The profile one identifier belongs to (``user_id``, ``email``, ``external:<ns>``...).

        Raises PrecisError with code ``not_found`` when no profile holds it.
        """
        if not identifier_type or not value:
            raise ValueError("identifier_type and value must not be empty")
        # Values are free text (emails, phone numbers with +, ids with /): escape everything.
        path = f"/v1/profiles/{quote(identifier_type, safe=':')}/{quote(value, safe='')}"
        response = self._request("GET", path, retryable=True)
        return Profile.from_json(self._json(response))

    def list_profiles(self, page_size: int = 100, cursor: str | None = None) -> ProfilePage:
        """One page of the workspace's profiles; pass ``next_cursor`` back for the next."""
        params: dict[str, str | int] = {"page_size": page_size}
        if cursor is not None:
            params["cursor"] = cursor
        response = self._request("GET", "/v1/profiles", params=params, retryable=True)
        return ProfilePage.from_json(self._json(response))

    def iter_profiles(self, page_size: int = 100) -> Iterator[Profile]:
        """Every profile of the workspace, page after page."""
        cursor: str | None = None
        while True:
            page = self.list_profiles(page_size=page_size, cursor=cursor)
            yield from page.profiles
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def refresh_rfm(self) -> dict[str, Any]:
        """Recompute the workspace's RFM boundaries; returns the cell sizes and boundaries."""
        response = self._request("POST", "/v1/rfm/refresh", retryable=True)
        body = self._json(response)
        if not isinstance(body, dict):
            raise PrecisError(response.status_code, "bad_response", "expected a JSON object")
        return body

    def put_tag_definition(
        self,
        tag: str,
        *,
        kind: str = "manual",
        rule: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """Create or replace a tag definition; a rule tag (``kind="rule"``) is evaluated against
        every profile before this returns. Returns the stored definition with its profile count."""
        body: dict[str, Any] = {"kind": kind, "description": description}
        if rule is not None:
            body["rule"] = dict(rule)
        path = f"/v1/tag-definitions/{quote(tag, safe='')}"
        return self._object(self._request("PUT", path, json=body, retryable=True))

    def tag_definitions(self) -> list[dict[str, Any]]:
        """Every tag definition of the workspace with the number of profiles carrying it."""
        body = self._object(self._request("GET", "/v1/tag-definitions", retryable=True))
        return list(body.get("definitions") or [])

    def delete_tag_definition(self, tag: str) -> int | None:
        """Delete a tag definition and remove the tag from every profile; returns how many (None
        when the small-cell rule withheld the count from this key)."""
        path = f"/v1/tag-definitions/{quote(tag, safe='')}"
        body = self._object(self._request("DELETE", path, retryable=True))
        untagged = body.get("profiles_untagged")
        return None if untagged is None else int(untagged)

    def set_life_stage_rule(self, rule: Mapping[str, Any] | None) -> dict[str, Any]:
        """Replace the workspace's life-stage rule (None restores the default)."""
        if rule is None:
            return self._object(self._request("DELETE", "/v1/life-stage-rule", retryable=True))
        response = self._request("PUT", "/v1/life-stage-rule", json=dict(rule), retryable=True)
        return self._object(response)

    # Audiences ------------------------------------------------------------------------------

    def create_segment(
        self,
        name: str,
        rule: dict[str, Any],
        *,
        description: str = "",
        materialize: bool = False,
        refresh_interval_seconds: int = 0,
    ) -> dict[str, Any]:
        """Saves a segment from a JSON rule; with ``materialize`` its members are computed now.
        Not retried: a second attempt after a lost answer would find the name taken (409)."""
        body = {
            "name": name,
            "rule": dict(rule),
            "description": description,
            "materialize": materialize,
            "refresh_interval_seconds": refresh_interval_seconds,
        }
        return self._object(self._request("POST", "/v1/segments", json=body, retryable=False))

    def get_segment(self, segment_id: str) -> dict[str, Any]:
        """One segment with its rule, family and member count (None when withheld)."""
        return self._object(self._request("GET", _segment_path(segment_id), retryable=True))

    def list_segments(self, *, family: str | None = None) -> list[dict[str, Any]]:
        """Every segment of the workspace (of one ``family``: rule, rfm, cluster, predictive,
        lookalike), following the cursors to the last page."""
        found: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"page_size": 500}
        if family is not None:
            params["family"] = family
        while True:
            page = self._object(self._request("GET", "/v1/segments", params=params, retryable=True))
            found.extend(page.get("segments") or [])
            cursor = page.get("next_cursor")
            if not cursor:
                return found
            params["cursor"] = cursor

    def estimate_segment(
        self,
        *,
        rule: dict[str, Any] | None = None,
        segment_id: str | None = None,
        channel: str | None = None,
    ) -> dict[str, Any]:
        """How many profiles a rule (or a saved segment, give exactly one) matches now, and
        with ``channel`` how many of them may be reached on it."""
        if (rule is None) == (segment_id is None):
            raise ValueError("give exactly one of rule and segment_id")
        body: dict[str, Any] = {"rule": dict(rule)} if rule is not None else {}
        if segment_id is not None:
            body["segment_id"] = segment_id
        if channel is not None:
            body["channel"] = channel
        response = self._request("POST", "/v1/segments/estimate", json=body, retryable=True)
        return self._object(response)

    def refresh_segment(self, segment_id: str, *, full: bool = False) -> dict[str, Any]:
        """Materializes the segment now; returns it with the entered and exited counts."""
        path = f"{_segment_path(segment_id)}/refresh"
        return self._object(self._request("POST", path, json={"full": full}, retryable=True))

    def segment_members(
        self,
        segment_id: str,
        *,
        channel: str | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of the members releasable on ``channel`` (consent granted; without a
        channel, for analysis only); pass ``next_cursor`` back as ``cursor`` for the next."""
        params: dict[str, str | int] = {}
        if channel is not None:
            params["channel"] = channel
        if page_size is not None:
            params["page_size"] = page_size
        if cursor is not None:
            params["cursor"] = cursor
        path = f"{_segment_path(segment_id)}/members"
        return self._object(self._request("GET", path, params=params, retryable=True))

    def export_segment(
        self, segment_id: str, *, channel: str | None = None, columns: list[str] | None = None
    ) -> str:
        """The members releasable on ``channel`` as CSV text (header row first), with
        ``columns`` (profile_id, user_id, ..., ``trait:<name>``; default profile_id,user_id)."""
        params: dict[str, str | int] = {}
        if channel is not None:
            params["channel"] = channel
        if columns:
            params["columns"] = ",".join(columns)
        path = f"{_segment_path(segment_id)}/export"
        return self._request("GET", path, params=params, retryable=True).text

    def rfm_cells(self, *, create_segments: bool = False) -> dict[str, Any]:
        """The RFM cells with their sizes and rules; ``create_segments`` also saves one segment
        per cell (asking again reuses them, so this is safe to retry)."""
        if create_segments:
            response = self._request(
                "POST", "/v1/segments/rfm-cells", json={"create_segments": True}, retryable=True
            )
        else:
            response = self._request("GET", "/v1/segments/rfm-cells", retryable=True)
        return self._object(response)

    def start_clustering(
        self,
        *,
        k_min: int = 0,
        k_max: int = 0,
        features: list[str] | None = None,
        seed: int = 0,
        create_segments: bool = False,
    ) -> dict[str, Any]:
        """Starts a clustering job and returns it, queued; follow it with
        ``wait_for_job(lambda: client.get_clustering_job(job["job_id"]))``. Not retried: a
        repeat would start a second job."""
        body: dict[str, Any] = {
            "k_min": k_min,
            "k_max": k_max,
            "features": list(features or []),
            "seed": seed,
            "create_segments": create_segments,
        }
        response = self._request("POST", "/v1/clustering-jobs", json=body, retryable=False)
        return self._object(response)

    def get_clustering_job(self, job_id: str) -> dict[str, Any]:
        """A clustering job's state and, once succeeded, its clusters."""
        if not job_id:
            raise ValueError("job_id must not be empty")
        path = f"/v1/clustering-jobs/{quote(job_id, safe='')}"
        return self._object(self._request("GET", path, retryable=True))

    def train_predictive_model(
        self,
        *,
        kind: str = "propensity",
        horizon_days: int = 0,
        target_event: str = "",
        cutoff: datetime | None = None,
        features: list[str] | None = None,
        seed: int = 0,
        name: str = "",
        campaign_id: str = "",
        uplift_method: str | None = None,
        arm_id: str = "",
        test_fraction: float = 0.0,
    ) -> dict[str, Any]:
        """Starts training a model version (``kind`` propensity, churn or uplift) and returns
        it, queued; follow it with ``wait_for_job(lambda: client.get_predictive_model(id))``.
        ``cutoff`` must be an aware datetime. Uplift models learn from the measurement campaign
        ``campaign_id`` (``uplift_method`` two_model or class_transformation; ``arm_id`` one
        arm against the holdout). Not retried: a repeat would train another version."""
        body: dict[str, Any] = {
            "kind": kind,
            "horizon_days": horizon_days,
            "target_event": target_event,
            "features": list(features or []),
            "seed": seed,
            "name": name,
        }
        optional = {
            "campaign_id": campaign_id,
            "arm_id": arm_id,
            "test_fraction": test_fraction,
            "uplift_method": uplift_method,
        }
        body.update({key: value for key, value in optional.items() if value})
        if cutoff is not None:
            body["cutoff"] = format_timestamp(cutoff)
        response = self._request("POST", "/v1/predictive-models", json=body, retryable=False)
        return self._object(response)

    def get_predictive_model(self, model_id: str) -> dict[str, Any]:
        """A model version's state and, once trained, its AUC, deciles and importances."""
        return self._object(self._request("GET", _model_path(model_id), retryable=True))

    def wait_for_job(
        self, get: Callable[[], dict[str, Any]], *, timeout: float = 600.0, interval: float = 0.5
    ) -> dict[str, Any]:
        """Calls ``get`` (a clustering job's or model's getter) until the state is succeeded or
        failed and returns that last answer; a failed job is returned, not raised (its
        ``error`` says why). Raises PrecisError with code ``timeout`` after ``timeout``
        seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = get()
            state = found.get("state")
            if state in ("succeeded", "failed"):
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = found.get("job_id") or found.get("model_id") or "job"
                raise PrecisError(
                    None,
                    "timeout",
                    f"{what} is still {state} ({found.get('progress', 0):.0%}) after {timeout:g} s",
                )
            self._sleep(min(interval, remaining))

    def list_predictive_models(
        self,
        *,
        kind: str | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of predictive model versions (of one ``kind``: propensity or churn), newest
        first: ``{"models", "next_cursor"}``; pass ``next_cursor`` back as ``cursor``."""
        params: dict[str, str | int] = {}
        if kind is not None:
            params["kind"] = kind
        if page_size is not None:
            params["page_size"] = page_size
        if cursor is not None:
            params["cursor"] = cursor
        response = self._request("GET", "/v1/predictive-models", params=params, retryable=True)
        return self._object(response)

    def create_predictive_audience(
        self,
        model_id: str,
        name: str,
        *,
        top_fraction: float | None = None,
        min_score: float | None = None,
    ) -> dict[str, Any]:
        """Saves the profiles a succeeded model scores highest as a segment: the top
        ``top_fraction`` or those scoring at least ``min_score`` (give exactly one). Returns
        ``{"segment", "expected_rate", "expected_lift", "expected_uplift"}`` (the last for
        uplift models, whose ``min_score`` may be negative)."""
        if (top_fraction is None) == (min_score is None):
            raise ValueError("give exactly one of top_fraction and min_score")
        body: dict[str, Any] = {"name": name}
        if top_fraction is not None:
            body["top_fraction"] = top_fraction
        else:
            body["min_score"] = min_score
        path = f"{_model_path(model_id)}/audiences"
        return self._object(self._request("POST", path, json=body, retryable=False))

    def create_lookalike_audience(
        self,
        seed_segment_id: str,
        name: str,
        size: int,
        *,
        features: list[str] | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Saves the ``size`` profiles most like a seed segment's members as a segment.
        Returns ``{"segment", "quality", "suppressed_counts"}``."""
        body: dict[str, Any] = {"name": name, "size": size, "seed": seed}
        if features:
            body["features"] = list(features)
        path = f"{_segment_path(seed_segment_id)}/lookalikes"
        return self._object(self._request("POST", path, json=body, retryable=False))

    # Recommendations ------------------------------------------------------------------------

    def upsert_items(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Creates or replaces up to 1000 catalog items by ``item_id`` (each a mapping of
        ``item_id``, ``title``, ``price`` and optionally ``category``, ``currency``,
        ``available``, ``attributes``). Returns ``{"created", "updated"}``. A refused item
        refuses the call (PrecisError 422 naming ``items[<index>].<field>``). Retried: putting
        the same items again changes nothing."""
        body = {"items": [dict(item) for item in items]}
        return self._object(self._request("PUT", "/v1/catalog/items", json=body, retryable=True))

    def list_items(
        self,
        *,
        category: str | None = None,
        available_only: bool = False,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of catalog items by item_id (under a ``category`` path, only available
        ones): ``{"items", "next_cursor"}``; pass ``next_cursor`` back as ``cursor``."""
        params: dict[str, str | int] = {}
        if category is not None:
            params["category"] = category
        if available_only:
            params["available_only"] = "true"
        if page_size is not None:
            params["page_size"] = page_size
        if cursor is not None:
            params["cursor"] = cursor
        response = self._request("GET", "/v1/catalog/items", params=params, retryable=True)
        return self._object(response)

    def get_item(self, item_id: str) -> dict[str, Any]:
        """One catalog item; PrecisError 404 when the catalog has no such item."""
        return self._object(self._request("GET", _item_path(item_id), retryable=True))

    def start_training(
        self,
        *,
        algorithm: str = "als",
        hyperparameters: Mapping[str, Any] | None = None,
        weights: Mapping[str, Any] | None = None,
        history_days: int = 0,
        test_days: int = 0,
        test_fraction: float = 0.0,
        k: int = 0,
        seed: int = 0,
        note: str = "",
    ) -> dict[str, Any]:
        """Starts training a recommendation model (``algorithm`` als or bpr) and returns the
        job, queued; follow it with :meth:`wait_for_training_job`. ``hyperparameters``
        (factors, regularization, iterations, alpha, learning_rate; 0 means the default) and
        ``weights`` (view, add_to_cart, purchase, half_life_days; those left out keep their
        defaults) are mappings. Not retried: a repeat would train another version."""
        body: dict[str, Any] = {
            "algorithm": algorithm,
            "history_days": history_days,
            "test_days": test_days,
            "test_fraction": test_fraction,
            "k": k,
            "seed": seed,
            "note": note,
        }
        if hyperparameters is not None:
            body["hyperparameters"] = dict(hyperparameters)
        if weights is not None:
            body["weights"] = dict(weights)
        response = self._request(
            "POST", "/v1/recommendation-models/training-jobs", json=body, retryable=False
        )
        return self._object(response)

    def get_training_job(self, job_id: str) -> dict[str, Any]:
        """A training job's state, stage and progress, its error, and the version it
        registered once succeeded (``model_version``)."""
        if not job_id:
            raise ValueError("job_id must not be empty")
        path = f"/v1/recommendation-models/training-jobs/{quote(job_id, safe='')}"
        return self._object(self._request("GET", path, retryable=True))

    def wait_for_training_job(
        self, job_id: str, *, timeout: float = 600.0, interval: float = 0.5
    ) -> dict[str, Any]:
        """Polls the training job until it has succeeded or failed and returns it; a failed
        job is returned, not raised (its ``error`` says why, for example too little data).
        Raises PrecisError with code ``timeout`` after ``timeout`` seconds."""
        return self.wait_for_job(
            lambda: self.get_training_job(job_id), timeout=timeout, interval=interval
        )

    def list_model_versions(
        self, *, page_size: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of recommendation model versions, newest first, with their metrics:
        ``{"versions", "serving_version", "next_cursor"}`` (``serving_version`` None when no
        version serves)."""
        params: dict[str, str | int] = {}
        if page_size is not None:
            params["page_size"] = page_size
        if cursor is not None:
            params["cursor"] = cursor
        response = self._request("GET", "/v1/recommendation-models", params=params, retryable=True)
        return self._object(response)

    def get_model_version(self, version: int) -> dict[str, Any]:
        """One model version with its training data and offline metrics beside the popularity
        baseline's."""
        return self._object(self._request("GET", _version_path(version), retryable=True))

    def promote_model_version(self, version: int) -> dict[str, Any]:
        """Makes ``version`` the serving one: ``{"serving", "previous_version"}``. Retried:
        promoting the serving version again changes nothing."""
        path = f"{_version_path(version)}/promote"
        return self._object(self._request("POST", path, retryable=True))

    def rollback_model_version(self) -> dict[str, Any]:
        """Serves the previously promoted version again: ``{"serving",
        "rolled_back_version"}``; PrecisError 412 when there is none. Not retried: a repeat
        after a lost answer would roll back once more."""
        response = self._request("POST", "/v1/recommendation-models/rollback", retryable=False)
        return self._object(response)

    def compare_model_versions(self, base: int, candidate: int) -> dict[str, Any]:
        """Two versions' offline metrics side by side: ``{"base", "candidate", "metrics",
        "same_split"}``, one metric row each with the difference."""
        params: dict[str, str | int] = {"base": base, "candidate": candidate}
        response = self._request(
            "GET", "/v1/recommendation-models/compare", params=params, retryable=True
        )
        return self._object(response)

    def recommend(
        self,
        identifier_type: str,
        value: str,
        *,
        k: int | None = None,
        exclude_purchased: bool = False,
        exclude_seen: bool = False,
        categories: Sequence[str] | None = None,
        available_only: bool = False,
        min_price: float | None = None,
        max_price: float | None = None,
        exclude: Sequence[str] | None = None,
        fallback_segment_id: str | None = None,
    ) -> dict[str, Any]:
        """Up to ``k`` items for the person one identifier names: ``{"items": [{"item",
        "score"}], "reason", "model_version", "profile_id"}``. ``reason`` is ``personalized``
        or says why popular items were given instead (``fallback_no_consent``,
        ``fallback_cold_start``, ``fallback_no_model``, ``fallback_consent_unavailable``)."""
        if not identifier_type or not value:
            raise ValueError("identifier_type and value must not be empty")
        params = _item_filter(
            categories=categories,
            available_only=available_only,
            min_price=min_price,
            max_price=max_price,
            exclude=exclude,
        )
        if k is not None:
            params["k"] = k
        if exclude_purchased:
            params["exclude_purchased"] = "true"
        if exclude_seen:
            params["exclude_seen"] = "true"
        if fallback_segment_id is not None:
            params["fallback_segment_id"] = fallback_segment_id
        path = (
            f"/v1/profiles/{quote(identifier_type, safe=':')}/{quote(value, safe='')}"
            "/recommendations"
        )
        return self._object(self._request("GET", path, params=params, retryable=True))

    def similar_items(
        self,
        item_id: str,
        *,
        k: int | None = None,
        categories: Sequence[str] | None = None,
        available_only: bool = False,
        min_price: float | None = None,
        max_price: float | None = None,
        exclude: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Items most similar to ``item_id``, never itself: ``{"items", "reason",
        "model_version"}`` (``model_version`` None when co-occurrence was used)."""
        params = _item_filter(
            categories=categories,
            available_only=available_only,
            min_price=min_price,
            max_price=max_price,
            exclude=exclude,
        )
        if k is not None:
            params["k"] = k
        path = f"{_item_path(item_id)}/similar"
        return self._object(self._request("GET", path, params=params, retryable=True))

    def popular_items(
        self,
        *,
        segment_id: str | None = None,
        k: int | None = None,
        window_days: int | None = None,
        categories: Sequence[str] | None = None,
        available_only: bool = False,
        min_price: float | None = None,
        max_price: float | None = None,
        exclude: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The most popular items over the last ``window_days``, among everyone or a
        segment's members: ``{"items", "reason", "fell_back_to_global", "interactions"}``
        (the interactions the ranking counted)."""
        params = _item_filter(
            categories=categories,
            available_only=available_only,
            min_price=min_price,
            max_price=max_price,
            exclude=exclude,
        )
        if segment_id is not None:
            params["segment_id"] = segment_id
        if k is not None:
            params["k"] = k
        if window_days is not None:
            params["window_days"] = window_days
        response = self._request(
            "GET", "/v1/recommendations/popular", params=params, retryable=True
        )
        return self._object(response)

    # Campaign measurement -------------------------------------------------------------------

    def record_assignments(
        self, campaign_id: str, assignments: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Records up to 10,000 assignments a sender made (``identifier_type``, ``value``,
        ``arm_id``, ``assigned_at``) in a campaign with ``external_assignment``. Retried: a
        person already assigned keeps the first assignment."""
        body = {
            "assignments": [
                {
                    **a,
                    "assigned_at": format_timestamp(a["assigned_at"])
                    if isinstance(a.get("assigned_at"), datetime)
                    else a.get("assigned_at"),
                }
                for a in assignments
            ]
        }
        return self._object(
            self._request(
                "POST", f"{_campaign_path(campaign_id)}/assignments", json=body, retryable=True
            )
        )

    def create_campaign(self, campaign: Mapping[str, Any]) -> dict[str, Any]:
        """Creates a campaign (``name``, ``segment_id``, ``channel``, ``arms`` of
        ``{"arm_id", "weight"}``, ``holdout_share``, ``end_time`` and optional metrics, window,
        costs; see the gateway's OpenAPI). Returns ``{"campaign", "warnings"}``. Not retried:
        a repeat would create a second campaign."""
        return self._object(
            self._request("POST", "/v1/campaigns", json=dict(campaign), retryable=False)
        )

    def list_campaigns(
        self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of campaigns, newest first: ``{"campaigns", "next_cursor"}``."""
        params: dict[str, str | int] = {}
        if status is not None:
            params["status"] = status
        if limit is not None:
            params["limit"] = limit
        if cursor is not None:
            params["cursor"] = cursor
        return self._object(self._request("GET", "/v1/campaigns", params=params, retryable=True))

    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        return self._object(self._request("GET", _campaign_path(campaign_id), retryable=True))

    def update_campaign(self, campaign_id: str, **changes: Any) -> dict[str, Any]:
        """Changes ``name``, ``description``, ``end_time``, ``cost_per_send`` or
        ``fixed_cost``. Retried: the same change twice is one change."""
        body = {
            k: (format_timestamp(v) if isinstance(v, datetime) else v) for k, v in changes.items()
        }
        return self._object(
            self._request("PATCH", _campaign_path(campaign_id), json=body, retryable=True)
        )

    def campaign_assignment(
        self, campaign_id: str, identifier_type: str, value: str
    ) -> dict[str, Any]:
        """A person's arm (``holdout``: do not contact) by identifier, or by
        ``identifier_type="profile_id"``."""
        path = (
            f"{_campaign_path(campaign_id)}/assignments/"
            f"{quote(identifier_type, safe=':')}/{quote(value, safe='')}"
        )
        return self._object(self._request("GET", path, retryable=True))

    def campaign_report(
        self,
        campaign_id: str,
        *,
        as_of: Timestamp | None = None,
        confidence_level: float | None = None,
    ) -> dict[str, Any]:
        """The campaign's report (arms, lifts against the holdout, impacts, SRM, cumulative
        lift, attribution, uplift, warnings)."""
        params = _report_params(as_of, confidence_level)
        return self._object(
            self._request(
                "GET", f"{_campaign_path(campaign_id)}/report", params=params, retryable=True
            )
        )

    def campaign_report_page(
        self,
        campaign_id: str,
        *,
        as_of: Timestamp | None = None,
        confidence_level: float | None = None,
    ) -> str:
        """The report as a self-contained HTML page with charts."""
        params = _report_params(as_of, confidence_level)
        response = self._request(
            "GET", f"{_campaign_path(campaign_id)}/report.html", params=params, retryable=True
        )
        return response.text

    def evaluate_campaign_uplift(
        self,
        campaign_id: str,
        scores: Mapping[str, float] | None = None,
        *,
        identifier_type: str = "profile_id",
        fractions: Sequence[float] = (),
        curve_points: int | None = None,
    ) -> dict[str, Any]:
        """How well ``scores`` (profile id -> score, or identifier value -> score with
        ``identifier_type`` such as ``"user_id"``) rank the campaign's subjects by uplift; kept
        and shown in the campaign's report. Without scores (None or empty), the current scores
        of the campaign's targeting model are evaluated. Retried: the same scores give the
        same evaluation."""
        scores = scores or {}
        if identifier_type == "profile_id":
            items = [{"profile_id": p, "score": float(v)} for p, v in scores.items()]
        else:
            items = [
                {"identifier_type": identifier_type, "value": p, "score": float(v)}
                for p, v in scores.items()
            ]
        body: dict[str, Any] = {"fractions": list(fractions)}
        if items:
            body["scores"] = items
        if curve_points is not None:
            body["curve_points"] = curve_points
        return self._object(
            self._request(
                "POST",
                f"{_campaign_path(campaign_id)}/uplift-evaluations",
                json=body,
                retryable=True,
            )
        )

    def campaign_subjects(
        self, campaign_id: str, *, page_size: int | None = None, cursor: str | None = None
    ) -> dict[str, Any]:
        """One page of the campaign's subjects by profile id, each with its arm and its
        conversions, revenue and outcome as the report counts them: ``{"campaign_id",
        "subjects", "next_cursor", "total_subjects", "primary_metric"}``; pass ``next_cursor``
        back as ``cursor`` for the next."""
        params: dict[str, str | int] = {}
        if page_size is not None:
            params["page_size"] = page_size
        if cursor is not None:
            params["cursor"] = cursor
        path = f"{_campaign_path(campaign_id)}/subjects"
        return self._object(self._request("GET", path, params=params, retryable=True))

    def iter_campaign_subjects(
        self, campaign_id: str, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every subject of the campaign, following the cursors to the last page."""
        cursor: str | None = None
        while True:
            page = self.campaign_subjects(campaign_id, page_size=page_size, cursor=cursor)
            yield from page.get("subjects") or []
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def analyze(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Analyzes a test from its arms' sufficient statistics (``metric_type``, ``arms``)."""
        return self._object(
            self._request("POST", "/v1/measurement/analyze", json=dict(body), retryable=True)
        )

    def plan_power(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._object(
            self._request("POST", "/v1/measurement/power", json=dict(body), retryable=True)
        )

    def evaluate_uplift(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._object(
            self._request("POST", "/v1/measurement/uplift", json=dict(body), retryable=True)
        )

    def compute_attribution(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._object(
            self._request("POST", "/v1/measurement/attribution", json=dict(body), retryable=True)
        )

    def best_send_times(
        self, profile_ids: Sequence[str], *, channel: str | None = None, time_zone: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"profile_ids": list(profile_ids), "time_zone": time_zone}
        if channel is not None:
            body["channel"] = channel
        return self._object(
            self._request("POST", "/v1/measurement/send-times", json=body, retryable=True)
        )

    # Consent --------------------------------------------------------------------------------

    def record_consent(
        self,
        subject: Mapping[str, Any],
        choices: Mapping[str, str] | Sequence[Mapping[str, str]],
        *,
        policy_version: str,
        source: str,
        request_id: str | None = None,
        legal_basis: str | None = None,
        channel: str | None = None,
        occurred_at: Timestamp | None = None,
        proof_reference: str | None = None,
        jurisdiction: str | None = None,
        guardian: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Records what a person chose, for example
        ``record_consent({"user_id": "c-1"}, {"marketing_email": "granted"},
        policy_version="2026-05", source="signup_form")``.

        ``subject`` (and ``guardian``) hold ``user_id``, ``anonymous_id``, ``email``, ``phone``,
        ``device_id``, ``external_ids`` or ``profile_id``; ``choices`` maps purposes to
        ``granted``/``denied``/``withdrawn`` (or is a list of ``{"purpose", "status"}``).
        Returns the appended entries and the subject's state per purpose. Pass ``request_id``
        to make the call retryable: repeating it returns the original entries.
        """
        if isinstance(choices, Mapping):
            listed = [{"purpose": p, "status": st} for p, st in choices.items()]
        else:
            listed = [dict(c) for c in choices]
        body: dict[str, Any] = {
            "subject": dict(subject),
            "choices": listed,
            "policy_version": policy_version,
            "source": source,
        }
        optional = {
            "request_id": request_id,
            "legal_basis": legal_basis,
            "channel": channel,
            "occurred_at": format_timestamp(occurred_at) if occurred_at is not None else None,
            "proof_reference": proof_reference,
            "jurisdiction": jurisdiction,
            "guardian": dict(guardian) if guardian is not None else None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        response = self._request("POST", "/v1/consent", json=body, retryable=request_id is not None)
        return self._object(response)

    def check_consent(
        self,
        subject: Mapping[str, Any],
        purposes: Sequence[str],
        *,
        jurisdiction: str | None = None,
    ) -> dict[str, Any]:
        """Whether each purpose is allowed for the subject now: ``{"decisions": [{"purpose",
        "allowed", "reason"}, ...]}`` in the order asked."""
        body: dict[str, Any] = {"subject": dict(subject), "purposes": list(purposes)}
        if jurisdiction is not None:
            body["jurisdiction"] = jurisdiction
        return self._object(self._request("POST", "/v1/consent/check", json=body, retryable=True))

    def consent_state(self, identifier_type: str, value: str) -> dict[str, Any]:
        """The consent state of the subject one identifier names: per purpose whether it is
        allowed, the status and the reason, with the jurisdiction and whether it is a minor."""
        if not identifier_type or not value:
            raise ValueError("identifier_type and value must not be empty")
        path = f"/v1/consent/{quote(identifier_type, safe=':')}/{quote(value, safe='')}"
        return self._object(self._request("GET", path, retryable=True))

    # Data-subject requests ------------------------------------------------------------------

    def request_export(
        self, subject: Mapping[str, Any], *, request_id: str | None = None, note: str = ""
    ) -> dict[str, Any]:
        """Opens a request to export everything held about a person (``subject`` as in
        :meth:`record_consent`); returns the request, pending. Follow it with
        :meth:`wait_for_privacy_request`, then read the bundle with
        ``privacy_request(request_id, include_bundle=True)``."""
        return self._open_privacy_request("/v1/privacy/exports", subject, request_id, note)

    def request_erasure(
        self, subject: Mapping[str, Any], *, request_id: str | None = None, note: str = ""
    ) -> dict[str, Any]:
        """Opens a request to erase a person from every service; returns the request, pending.
        Once completed, each task carries its receipt (rows deleted per table)."""
        return self._open_privacy_request("/v1/privacy/erasures", subject, request_id, note)

    def _open_privacy_request(
        self, path: str, subject: Mapping[str, Any], request_id: str | None, note: str
    ) -> dict[str, Any]:
        # Named here when not given, so that a retry after a lost answer finds the request it
        # opened instead of opening a second one: these calls are always safe to retry.
        body: dict[str, Any] = {
            "request_id": request_id or str(uuid.uuid4()),
            "subject": dict(subject),
        }
        if note:
            body["note"] = note
        return self._object(self._request("POST", path, json=body, retryable=True))

    def privacy_request(self, request_id: str, include_bundle: bool = False) -> dict[str, Any]:
        """A data-subject request with each service's progress and receipt; a completed
        export's ``bundle`` (keyed by service) with ``include_bundle=True``."""
        if not request_id:
            raise ValueError("request_id must not be empty")
        params: dict[str, str | int] = {"include_bundle": "true"} if include_bundle else {}
        path = f"/v1/privacy/requests/{quote(request_id, safe='')}"
        return self._object(self._request("GET", path, params=params, retryable=True))

    def wait_for_privacy_request(
        self, request_id: str, timeout: float = 60.0, *, poll_interval: float = 0.5
    ) -> dict[str, Any]:
        """Polls until the request is completed and returns it. A request whose services keep
        failing (``needs_attention``) is still being retried, so it is waited for too; raises
        TimeoutError, naming the last state and errors, after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.privacy_request(request_id)
            if found.get("state") == "completed":
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failing = {
                    t.get("service"): t.get("last_error")
                    for t in found.get("tasks") or []
                    if t.get("last_error")
                }
                raise TimeoutError(
                    f"data-subject request {request_id!r} is still {found.get('state')} after "
                    f"{timeout:g} s" + (f"; failing: {failing}" if failing else "")
                )
            self._sleep(min(poll_interval, remaining))

    def _object(self, response: httpx.Response) -> dict[str, Any]:
        body = self._json(response)
        if not isinstance(body, dict):
            raise PrecisError(response.status_code, "bad_response", "expected a JSON object")
        return body

    # Probes ---------------------------------------------------------------------------------

    def healthz(self) -> HealthStatus:
        """Liveness of the gateway process. Not retried: a probe reports what it sees."""
        return self._probe("/healthz")

    def readyz(self) -> HealthStatus:
        """Readiness: ``ok`` is False (HTTP 503) while a service behind the gateway is down."""
        return self._probe("/readyz")

    def _probe(self, path: str) -> HealthStatus:
        response = self._request("GET", path, retryable=False, accept_statuses=(503,))
        try:
            body = response.json()
        except ValueError:
            body = {}
        return HealthStatus(
            ok=response.status_code == 200,
            http_status=response.status_code,
            body=dict(body) if isinstance(body, Mapping) else {},
        )

    # Transport ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        params: Params | None = None,
        retryable: bool,
        accept_statuses: tuple[int, ...] = (),
    ) -> httpx.Response:
        attempt = 0
        while True:
            error: PrecisError
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TimeoutException as exc:
                error = PrecisError(None, "timeout", f"{method} {path} timed out: {exc}")
                cause: BaseException = exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                error = PrecisError(
                    None,
                    "connection_error",
                    f"{method} {self.base_url}{path} failed: {exc}",
                )
                cause = exc
            else:
                if response.is_success or response.status_code in accept_statuses:
                    return response
                error = self._error(response)
                cause = error
                if response.status_code not in RETRIED_STATUSES:
                    raise error
            if not retryable or attempt >= self._max_retries:
                if cause is error:
                    raise error
                raise error from cause
            self._sleep(self._backoff(attempt, error.retry_after))
            attempt += 1

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._backoff_max)
        ceiling = min(self._backoff_max, self._backoff_base * 2**attempt)
        # Half fixed, half random: spreads clients that failed together without ever
        # retrying immediately.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    @staticmethod
    def _error(response: httpx.Response) -> PrecisError:
        try:
            body: object = response.json()
        except ValueError:
            body = None
        return error_from_response(
            response.status_code, body, response.text, _retry_after_seconds(response)
        )

    @staticmethod
    def _json(response: httpx.Response) -> object:
        try:
            return response.json()
        except ValueError as exc:
            raise PrecisError(
                response.status_code,
                "invalid_response",
                f"the gateway answered with a body that is not JSON: {response.text[:200]!r}",
            ) from exc
