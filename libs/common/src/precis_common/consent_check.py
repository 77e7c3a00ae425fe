"""Consent checks on the request path: a client of ConsentService.CheckConsent with a cache that
the consent_changes feed keeps honest.

Every service that uses personal data (ingestion, segmentation, recommendation, exports) asks
before it uses it. Asking over gRPC costs a round trip per subject; the answers rarely change, so
they are cached, and a background thread follows the consent service's "consent_changes" feed
and drops every cached answer a change can affect:
  - a recorded consent or a minor-status change: the answers about any of its identifiers;
  - changed defaults: every answer of the workspace;
  - a suppressed (erased) subject: every answer of the workspace (the change carries
    suppression tokens, which cannot be traced back to identifiers).

Correctness rules, written down here because a stale "allowed" is a compliance failure:
  - an answer is cached only if no invalidation happened while it was being fetched (a
    generation counter), so a change that lands mid-request cannot be overwritten by the older
    answer;
  - the cache is used only while the follower is healthy (it read the feed successfully within
    `stale_after_s`); otherwise every check goes to the service;
  - entries also expire after `ttl_s`, a bound on staleness should a change ever be missed.
Identifiers are compared in their stored form (email and phone as keyed hashes), which is what
the feed carries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from precis.common.v1 import feed_pb2, feed_pb2_grpc, privacy_pb2
from precis.consent.v1 import consent_pb2, consent_pb2_grpc
from precis_common.errors import InvalidArgument
from precis_common.grpc_client import workspace_metadata
from precis_common.identifiers import PiiHasher
from precis_common.privacy import StoredKey, stored_key

log = logging.getLogger(__name__)

FEED = "consent_changes"
CacheKey = tuple[str, tuple[StoredKey, ...], tuple[int, ...], str]


@dataclass(frozen=True, slots=True)
class CheckResult:
    decisions: list[consent_pb2.PurposeDecision]
    cached: bool


@dataclass
class _Entry:
    decisions: list[consent_pb2.PurposeDecision]
    expires: float


class ConsentChecker:
    def __init__(
        self,
        channel: grpc.Channel,
        hasher: PiiHasher,
        *,
        max_entries: int = 100_000,
        ttl_s: float = 300.0,
        stale_after_s: float = 10.0,
        wait_ms: int = 1000,
        deadline_s: float = 2.0,
    ) -> None:
        self._stub = consent_pb2_grpc.ConsentServiceStub(channel)
        self._feed = feed_pb2_grpc.FeedServiceStub(channel)
        self._hasher = hasher
        self._max = max_entries
        self._ttl = ttl_s
        self._stale_after = stale_after_s
        self._wait_ms = wait_ms
        self._deadline = deadline_s
        self._lock = threading.Lock()
        self._cache: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._by_key: dict[tuple[str, StoredKey], set[CacheKey]] = {}
        self._generation = 0
        self._last_read = 0.0
        self._position = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hits = 0
        self.misses = 0

    # ---- checking --------------------------------------------------------------------------

    def check(
        self,
        workspace_id: str,
        subject: privacy_pb2.DataSubject,
        purposes: Sequence[int],
        jurisdiction: str = "",
    ) -> CheckResult:
        keys = self._stored_keys(workspace_id, subject)
        key: CacheKey = (workspace_id, keys, tuple(purposes), jurisdiction)
        now = time.monotonic()
        with self._lock:
            fresh = now - self._last_read < self._stale_after
            entry = self._cache.get(key) if fresh else None
            if entry is not None and entry.expires > now:
                self._cache.move_to_end(key)
                self.hits += 1
                return CheckResult(entry.decisions, True)
            generation = self._generation
            self.misses += 1
        response = self._stub.CheckConsent(
            consent_pb2.CheckConsentRequest(
                subject=subject,
                purposes=list(purposes),  # type: ignore[arg-type]  # proto enums are ints
                jurisdiction=jurisdiction,
            ),
            timeout=self._deadline,
            metadata=workspace_metadata(workspace_id),
        )
        decisions = list(response.decisions)
        with self._lock:
            healthy = time.monotonic() - self._last_read < self._stale_after
            if self._generation == generation and healthy:
                self._store(key, decisions, time.monotonic() + self._ttl)
        return CheckResult(decisions, False)

    def _stored_keys(
        self, workspace_id: str, subject: privacy_pb2.DataSubject
    ) -> tuple[StoredKey, ...]:
        keys = {
            stored_key(self._hasher, workspace_id, identifier, field=f"subject.identifiers[{i}]")
            for i, identifier in enumerate(subject.identifiers)
        }
        if subject.profile_id:
            keys.add(("profile_id", subject.profile_id))
        return tuple(sorted(keys))

    def _store(
        self, key: CacheKey, decisions: list[consent_pb2.PurposeDecision], at: float
    ) -> None:
        self._cache[key] = _Entry(decisions, at)
        self._cache.move_to_end(key)
        workspace = key[0]
        for stored in key[1]:
            self._by_key.setdefault((workspace, stored), set()).add(key)
        while len(self._cache) > self._max:
            old, _ = self._cache.popitem(last=False)
            self._unindex(old)

    def _unindex(self, key: CacheKey) -> None:
        for stored in key[1]:
            held = self._by_key.get((key[0], stored))
            if held is not None:
                held.discard(key)
                if not held:
                    del self._by_key[(key[0], stored)]

    # ---- following the feed ----------------------------------------------------------------

    def start(self) -> ConsentChecker:
        self._thread = threading.Thread(target=self._run, name="consent-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            # The follower only touches this object's memory: a long poll to a consent service
            # that stopped first is not waited out (the thread is a daemon).
            self._thread.join(timeout=0.5)
        self._thread = None

    @property
    def healthy(self) -> bool:
        return time.monotonic() - self._last_read < self._stale_after

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                self.poll(self._wait_ms)
                delay = 0.2
            except grpc.RpcError as exc:
                log.warning("consent feed unreachable (%s); checks bypass the cache", exc.code())
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # the follower must outlive a bad entry; checks bypass meanwhile
                log.exception("consent feed entry not applied; checks bypass the cache")
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def poll(self, wait_ms: int = 0) -> int:
        """Read the feed once from the last position and apply what it says; returns the number
        of entries read. The thread calls it in a loop; tests may call it directly."""
        request = feed_pb2.ReadFeedRequest(
            feed=FEED, after_seq=self._position, max_entries=1000, wait_ms=wait_ms
        )
        entries: list[feed_pb2.FeedEntry] = []
        for response in self._feed.ReadFeed(
            request, timeout=wait_ms / 1000 + 10, metadata=workspace_metadata("system")
        ):
            entries.extend(response.entries)
        with self._lock:
            for entry in entries:
                self._invalidate(entry)
                self._position = max(self._position, entry.seq)
            self._last_read = time.monotonic()
        return len(entries)

    def _invalidate(self, entry: feed_pb2.FeedEntry) -> None:
        change = consent_pb2.ConsentChange.FromString(entry.payload)
        self._generation += 1
        workspace = entry.workspace_id
        workspace_wide = (
            consent_pb2.CONSENT_CHANGE_KIND_DEFAULTS_CHANGED,
            consent_pb2.CONSENT_CHANGE_KIND_SUBJECT_SUPPRESSED,
        )
        try:
            # The feed carries email and phone already hashed, which stored_key takes as is.
            stored = [
                stored_key(self._hasher, workspace, i, field="identifiers")
                for i in change.identifiers
            ]
        except InvalidArgument:
            stored = None  # an identifier this version cannot read: drop the whole workspace
        if change.kind in workspace_wide or stored is None:
            for key in [k for k in self._cache if k[0] == workspace]:
                del self._cache[key]
                self._unindex(key)
            return
        if change.profile_id:
            stored.append(("profile_id", change.profile_id))
        for one in stored:
            for key in list(self._by_key.get((workspace, one), ())):
                self._cache.pop(key, None)
                self._unindex(key)
