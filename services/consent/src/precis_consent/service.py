"""The consent store: appends to the ledger, keeps the current state per identifier and purpose,
answers checks, and publishes every change of a subject's consent on consent_changes in the same
transaction. Subjects are given as keys: (kind, stored value) pairs."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, or_, select, update
from sqlalchemy.orm import Session

from precis.consent.v1 import consent_pb2 as pb
from precis_common.db import Database, affected
from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_common.feed import FeedWriter, NewEntry, to_timestamp
from precis_common.privacy import identifier_of
from precis_common.timeutil import aware
from precis_consent.ledger import (
    FALLBACK,
    GRANTED,
    PURPOSE_IDS,
    STATUS_IDS,
    Decision,
    JurisdictionDefaults,
    Latest,
    Minor,
    built_in,
    decide,
)
from precis_consent.store import (
    consent_changes,
    consent_defaults,
    consent_entries,
    consent_entry_keys,
    consent_state,
    minors,
)

Key = tuple[str, str]
# Erases a subject from another table of this database inside ConsentStore.erase's transaction
# (the audit log's subject links); returns rows affected per table.
SubjectEraser = Callable[[Session, str, Sequence[Key]], dict[str, int]]
SETTINGS_ROW = ""  # consent_defaults row holding the workspace's settings
CHUNK = 400


@dataclass(frozen=True, slots=True)
class Choice:
    purpose: str
    status: str


@dataclass(frozen=True, slots=True)
class Capture:
    """One RecordConsent request, validated and with identifiers as stored."""

    request_id: str
    keys: list[Key]
    choices: list[Choice]
    legal_basis: str
    policy_version: str
    source: str
    channel: str
    occurred_at: datetime
    proof_reference: str
    jurisdiction: str  # "" = the subject's last one, then the workspace's
    guardian: list[Key]


@dataclass(frozen=True, slots=True)
class Known:
    """What a recording has already read about its subject: its minor status, and the defaults
    of one jurisdiction."""

    minor: Minor | None
    jurisdiction: str
    defaults: JurisdictionDefaults


@dataclass(frozen=True, slots=True)
class SubjectState:
    decisions: dict[str, Decision]
    jurisdiction: str
    is_minor: bool


class ConsentStore:
    def __init__(
        self, database: Database, writer: FeedWriter, erasers: Sequence[SubjectEraser] = ()
    ) -> None:
        self.db = database
        self.writer = writer
        self.erasers = list(erasers)

    # ---- recording -------------------------------------------------------------------------

    def record(self, workspace_id: str, capture: Capture) -> tuple[list[Any], SubjectState]:
        """Append one entry per choice and update the state; idempotent per request_id."""
        with self.db.write() as session:
            result = self.record_in(session, workspace_id, capture)
        self.writer.committed()
        return result

    def record_in(
        self, session: Session, workspace_id: str, capture: Capture
    ) -> tuple[list[Any], SubjectState]:
        """record() inside the caller's transaction (a feed consumer's); the caller calls
        writer.committed() once it has committed."""
        self.writer.lock(session)  # one writer of consent at a time: states stay consistent
        e = consent_entries.c
        existing = session.execute(
            select(consent_entries)
            .where(e.workspace_id == workspace_id, e.request_id == capture.request_id)
            .order_by(e.purpose)
        ).all()
        if existing:
            keys: list[Key] = [(k[0], k[1]) for k in existing[0].subject]
            return list(existing), self._state(session, workspace_id, keys, "")
        now = datetime.now(UTC)
        minor = self._minor(session, workspace_id, capture.keys)
        if minor is not None and minor.applies(now) and not capture.guardian:
            raise FailedPrecondition(
                "the subject is marked as a minor: a guardian must decide (set guardian)"
            )
        latest = self._latest(session, workspace_id, capture.keys)
        jurisdiction = capture.jurisdiction or self._jurisdiction(
            session, workspace_id, capture.keys, "", latest
        )
        defaults = self._defaults(session, workspace_id, jurisdiction)
        known = Known(minor, jurisdiction, defaults)
        bundled = [
            c.purpose
            for c in capture.choices
            if c.status == GRANTED and defaults.default(c.purpose).separate
        ]
        if bundled and len(capture.choices) > 1:
            raise InvalidArgument.field(
                "choices",
                f"{', '.join(bundled)} needs its own, separate consent (PIPL): record it in a "
                "request of its own",
            )
        before = self._state(
            session, workspace_id, capture.keys, jurisdiction, latest=latest, known=known
        )
        rows: list[dict[str, Any]] = []
        for choice in capture.choices:
            row = {
                "entry_id": str(uuid.uuid4()),
                "workspace_id": workspace_id,
                "request_id": capture.request_id,
                "purpose": choice.purpose,
                "status": choice.status,
                "legal_basis": capture.legal_basis,
                "policy_version": capture.policy_version,
                "source": capture.source,
                "channel": capture.channel,
                "occurred_at": capture.occurred_at,
                "recorded_at": now,
                "proof_reference": capture.proof_reference,
                "jurisdiction": jurisdiction,
                "subject": [list(k) for k in capture.keys],
                "guardian": [list(k) for k in capture.guardian],
            }
            rows.append(row)
        session.execute(consent_entries.insert(), rows)
        session.execute(
            consent_entry_keys.insert(),
            [
                {
                    "workspace_id": workspace_id,
                    "kind": kind,
                    "value": value,
                    "entry_id": row["entry_id"],
                    "occurred_at": capture.occurred_at,
                }
                for row in rows
                # The guardian's identifiers too: their decisions are theirs to export.
                for kind, value in dict.fromkeys([*capture.keys, *capture.guardian])
            ],
        )
        self._update_state(session, workspace_id, capture, rows, jurisdiction)
        after = self._state(session, workspace_id, capture.keys, jurisdiction, known=known)
        notices = []
        for row in rows:
            purpose = str(row["purpose"])
            old, new = before.decisions[purpose], after.decisions[purpose]
            if new.entry_id != row["entry_id"]:
                continue  # an older decision than the one in force: ledger only
            notices.append(
                self._notice(
                    workspace_id,
                    pb.CONSENT_CHANGE_KIND_RECORDED,
                    capture.keys,
                    purpose,
                    old,
                    new,
                    jurisdiction,
                )
            )
        self.writer.append(session, notices)
        stored = session.execute(
            select(consent_entries)
            .where(e.entry_id.in_([r["entry_id"] for r in rows]))
            .order_by(e.purpose)
        ).all()
        return list(stored), after

    def _update_state(
        self,
        session: Session,
        workspace_id: str,
        capture: Capture,
        rows: list[dict[str, Any]],
        jurisdiction: str,
    ) -> None:
        s = consent_state.c
        purposes = [r["purpose"] for r in rows]
        current = {
            (r.kind, r.value, r.purpose): r.occurred_at
            for chunk in _chunks(capture.keys)
            for r in session.execute(
                select(s.kind, s.value, s.purpose, s.occurred_at).where(
                    s.workspace_id == workspace_id,
                    _keys_match(s, chunk),
                    s.purpose.in_(purposes),
                )
            )
        }
        for row in rows:
            values = {
                "entry_id": row["entry_id"],
                "status": row["status"],
                "policy_version": row["policy_version"],
                "jurisdiction": jurisdiction,
                "by_guardian": bool(capture.guardian),
                "occurred_at": capture.occurred_at,
            }
            for kind, value in capture.keys:
                at = current.get((kind, value, row["purpose"]))
                if at is None:
                    session.execute(
                        consent_state.insert().values(
                            workspace_id=workspace_id,
                            kind=kind,
                            value=value,
                            purpose=row["purpose"],
                            **values,
                        )
                    )
                elif aware(at) <= capture.occurred_at:
                    session.execute(
                        update(consent_state)
                        .where(
                            s.workspace_id == workspace_id,
                            s.kind == kind,
                            s.value == value,
                            s.purpose == row["purpose"],
                        )
                        .values(**values)
                    )

    def _notice(
        self,
        workspace_id: str,
        kind: int,
        keys: Sequence[Key],
        purpose: str,
        old: Decision | None,
        new: Decision,
        jurisdiction: str,
    ) -> NewEntry:
        change = pb.ConsentChange(
            kind=kind,  # type: ignore[arg-type]  # proto enums are ints at run time
            identifiers=[identifier_of(k) for k in keys if k[0] != "profile_id"],
            profile_id=next((v for k, v in keys if k == "profile_id"), ""),
            purpose=PURPOSE_IDS[purpose],  # type: ignore[arg-type]
            status=STATUS_IDS[new.status],  # type: ignore[arg-type]
            previous_status=STATUS_IDS[old.status] if old else 0,  # type: ignore[arg-type]
            allowed=new.allowed,
            reason=new.reason,  # type: ignore[arg-type]
            entry_id=new.entry_id,
            jurisdiction=jurisdiction,
            policy_version=new.policy_version,
            occurred_at=to_timestamp(datetime.now(UTC)),
        )
        names: dict[int, str] = {
            pb.CONSENT_CHANGE_KIND_RECORDED: "consent.recorded",
            pb.CONSENT_CHANGE_KIND_DEFAULTS_CHANGED: "consent.defaults_changed",
            pb.CONSENT_CHANGE_KIND_MINOR_STATUS_CHANGED: "consent.minor_status_changed",
        }
        return NewEntry(workspace_id, names[kind], change.SerializeToString())

    # ---- reading ---------------------------------------------------------------------------

    def state(self, workspace_id: str, keys: Sequence[Key], jurisdiction: str = "") -> SubjectState:
        with self.db.read() as session:
            return self._state(session, workspace_id, keys, jurisdiction)

    def _state(
        self,
        session: Session,
        workspace_id: str,
        keys: Sequence[Key],
        jurisdiction: str,
        *,
        latest: dict[str, Latest] | None = None,
        known: Known | None = None,
    ) -> SubjectState:
        """The subject's decisions now. `latest` and `known` (its minor status and the defaults
        of one jurisdiction) save queries when the caller has just read them."""
        now = datetime.now(UTC)
        if latest is None:
            latest = self._latest(session, workspace_id, keys)
        where = self._jurisdiction(session, workspace_id, keys, jurisdiction, latest)
        if known is not None and known.jurisdiction == where:
            defaults = known.defaults
        else:
            defaults = self._defaults(session, workspace_id, where)
        minor = known.minor if known is not None else self._minor(session, workspace_id, keys)
        decisions = {
            purpose: decide(purpose, latest.get(purpose), defaults, minor, now)
            for purpose in PURPOSE_IDS
        }
        return SubjectState(decisions, where, minor is not None and minor.applies(now))

    def _latest(
        self, session: Session, workspace_id: str, keys: Sequence[Key]
    ) -> dict[str, Latest]:
        """The latest entry per purpose over all the subject's identifiers; on a tie in time the
        more protective status wins."""
        s = consent_state.c
        rank = {"denied": 0, "withdrawn": 1, "granted": 2}
        best: dict[str, Latest] = {}
        for chunk in _chunks(keys):
            for r in session.execute(
                select(consent_state).where(s.workspace_id == workspace_id, _keys_match(s, chunk))
            ):
                candidate = Latest(
                    r.entry_id,
                    r.status,
                    r.policy_version,
                    r.by_guardian,
                    aware(r.occurred_at),
                    r.jurisdiction,
                )
                held = best.get(r.purpose)
                if held is None or (candidate.occurred_at, -rank[candidate.status]) > (
                    held.occurred_at,
                    -rank[held.status],
                ):
                    best[r.purpose] = candidate
        return best

    def _jurisdiction(
        self,
        session: Session,
        workspace_id: str,
        keys: Sequence[Key],
        asked: str,
        latest: dict[str, Latest] | None = None,
    ) -> str:
        """The subject's last recorded jurisdiction, else the one asked for, else the
        workspace's default jurisdiction, else the fallback "*"."""
        if latest is None:
            latest = self._latest(session, workspace_id, keys)
        if latest:
            return max(latest.values(), key=lambda x: x.occurred_at).jurisdiction
        if asked:
            return asked
        return self.default_jurisdiction(session, workspace_id)

    def default_jurisdiction(self, session: Session, workspace_id: str) -> str:
        d = consent_defaults.c
        doc = session.execute(
            select(d.doc).where(d.workspace_id == workspace_id, d.jurisdiction == SETTINGS_ROW)
        ).scalar_one_or_none()
        return str(doc.get("default_jurisdiction", FALLBACK)) if doc else FALLBACK

    def _defaults(
        self, session: Session, workspace_id: str, jurisdiction: str
    ) -> JurisdictionDefaults:
        d = consent_defaults.c
        rows = {
            r.jurisdiction: r
            for r in session.execute(
                select(consent_defaults).where(
                    d.workspace_id == workspace_id, d.jurisdiction.in_([jurisdiction, FALLBACK])
                )
            )
        }
        row = rows.get(jurisdiction) or rows.get(FALLBACK)
        if row is None:
            return built_in(jurisdiction)
        return JurisdictionDefaults.from_json(row.jurisdiction, row.doc, aware(row.updated_at))

    def _minor(self, session: Session, workspace_id: str, keys: Sequence[Key]) -> Minor | None:
        """The subject's minor status: marked as a minor under any of its identifiers is enough."""
        m = minors.c
        found: Minor | None = None
        for chunk in _chunks(keys):
            for r in session.execute(
                select(minors).where(m.workspace_id == workspace_id, _keys_match(m, chunk))
            ):
                status = Minor(
                    r.is_minor,
                    list(r.guardian),
                    aware(r.comes_of_age_at) if r.comes_of_age_at else None,
                    r.verification_reference,
                    aware(r.updated_at),
                )
                if found is None or (status.is_minor and not found.is_minor):
                    found = status
        return found

    def check(
        self, workspace_id: str, keys: Sequence[Key], purposes: Sequence[str], jurisdiction: str
    ) -> list[Decision]:
        state = self.state(workspace_id, keys, jurisdiction)
        return [state.decisions[p] for p in purposes]

    def history(
        self,
        workspace_id: str,
        keys: Sequence[Key],
        purposes: Sequence[str],
        page_size: int,
        token: str,
    ) -> tuple[list[Any], str]:
        """Ledger entries recorded under any of the subject's identifiers, newest first."""
        k, e = consent_entry_keys.c, consent_entries.c
        ids = (
            select(k.entry_id)
            .where(k.workspace_id == workspace_id, _keys_match(k, list(keys)))
            .distinct()
        )
        query = select(consent_entries).where(e.workspace_id == workspace_id, e.entry_id.in_(ids))
        if purposes:
            query = query.where(e.purpose.in_(purposes))
        if token:
            at, entry_id = decode_token(token)
            query = query.where(
                or_(e.occurred_at < at, and_(e.occurred_at == at, e.entry_id < entry_id))
            )
        with self.db.read() as session:
            rows = session.execute(
                query.order_by(e.occurred_at.desc(), e.entry_id.desc()).limit(page_size + 1)
            ).all()
        last = rows[page_size - 1] if len(rows) > page_size else None
        next_token = encode_token(last.occurred_at, last.entry_id) if last is not None else ""
        return list(rows[:page_size]), next_token

    # ---- defaults and minors ---------------------------------------------------------------

    def defaults(
        self, workspace_id: str, jurisdiction: str
    ) -> tuple[list[JurisdictionDefaults], str]:
        d = consent_defaults.c
        with self.db.read() as session:
            default_jurisdiction = self.default_jurisdiction(session, workspace_id)
            if jurisdiction:
                return [self._defaults(session, workspace_id, jurisdiction)], default_jurisdiction
            stored = [
                JurisdictionDefaults.from_json(r.jurisdiction, r.doc, aware(r.updated_at))
                for r in session.execute(
                    select(consent_defaults)
                    .where(d.workspace_id == workspace_id, d.jurisdiction != SETTINGS_ROW)
                    .order_by(d.jurisdiction)
                )
            ]
        if not any(x.jurisdiction == FALLBACK for x in stored):
            stored.insert(0, built_in(FALLBACK))
        return stored, default_jurisdiction

    def set_defaults(
        self, workspace_id: str, new: JurisdictionDefaults, make_default: bool
    ) -> JurisdictionDefaults:
        """Replace one jurisdiction's defaults; every purpose whose default changed is announced
        (subjects without an explicit entry in that jurisdiction change state)."""
        d = consent_defaults.c
        now = datetime.now(UTC)
        with self.db.write() as session:
            self.writer.lock(session)
            old = self._defaults(session, workspace_id, new.jurisdiction)
            session.execute(
                delete(consent_defaults).where(
                    d.workspace_id == workspace_id, d.jurisdiction == new.jurisdiction
                )
            )
            session.execute(
                consent_defaults.insert().values(
                    workspace_id=workspace_id,
                    jurisdiction=new.jurisdiction,
                    doc=new.to_json(),
                    updated_at=now,
                )
            )
            if make_default:
                session.execute(
                    delete(consent_defaults).where(
                        d.workspace_id == workspace_id, d.jurisdiction == SETTINGS_ROW
                    )
                )
                session.execute(
                    consent_defaults.insert().values(
                        workspace_id=workspace_id,
                        jurisdiction=SETTINGS_ROW,
                        doc={"default_jurisdiction": new.jurisdiction},
                        updated_at=now,
                    )
                )
            stored = self._defaults(session, workspace_id, new.jurisdiction)
            notices = []
            for purpose in PURPOSE_IDS:
                a, b = old.default(purpose), stored.default(purpose)
                if (
                    a.status != b.status
                    or old.minimum_policy_version != stored.minimum_policy_version
                ):
                    decision = decide(purpose, None, stored, None, now)
                    previous = decide(purpose, None, old, None, now)
                    notices.append(
                        self._notice(
                            workspace_id,
                            pb.CONSENT_CHANGE_KIND_DEFAULTS_CHANGED,
                            [],
                            purpose,
                            previous,
                            decision,
                            new.jurisdiction,
                        )
                    )
            self.writer.append(session, notices)
        self.writer.committed()
        return stored

    def minor(self, workspace_id: str, keys: Sequence[Key]) -> Minor:
        with self.db.read() as session:
            return self._minor(session, workspace_id, keys) or Minor(False)

    def set_minor(self, workspace_id: str, keys: Sequence[Key], status: Minor) -> Minor:
        """Mark (or unmark) the subject as a minor under every identifier given."""
        m = minors.c
        now = datetime.now(UTC)
        with self.db.write() as session:
            self.writer.lock(session)
            before = self._state(session, workspace_id, keys, "")
            for chunk in _chunks(keys):
                session.execute(
                    delete(minors).where(m.workspace_id == workspace_id, _keys_match(m, chunk))
                )
            session.execute(
                minors.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "kind": kind,
                        "value": value,
                        "is_minor": status.is_minor,
                        "guardian": status.guardian,
                        "comes_of_age_at": status.comes_of_age_at,
                        "verification_reference": status.verification_reference,
                        "updated_at": now,
                    }
                    for kind, value in keys
                ],
            )
            after = self._state(session, workspace_id, keys, "")
            self.writer.append(
                session,
                [
                    self._notice(
                        workspace_id,
                        pb.CONSENT_CHANGE_KIND_MINOR_STATUS_CHANGED,
                        keys,
                        purpose,
                        before.decisions[purpose],
                        decision,
                        after.jurisdiction,
                    )
                    for purpose, decision in after.decisions.items()
                    if decision.allowed != before.decisions[purpose].allowed
                ],
            )
            stored = self._minor(session, workspace_id, keys) or Minor(False)
        self.writer.committed()
        return stored

    # ---- privacy ---------------------------------------------------------------------------

    def export(self, workspace_id: str, keys: Sequence[Key]) -> dict[str, Any]:
        """Everything held about the subject: its ledger entries (also those it decided as a
        guardian), its current state and its minor status."""
        with self.db.read() as session:
            entries = self._entries_of(session, workspace_id, keys)
            state = self._state(session, workspace_id, keys, "")
            minor = self._minor(session, workspace_id, keys)
        return {
            "ledger": [entry_json(r) for r in entries],
            "state": {
                p: {
                    "status": d.status,
                    "allowed": d.allowed,
                    "reason": pb.DecisionReason.Name(d.reason),
                    "entry_id": d.entry_id or None,
                }
                for p, d in state.decisions.items()
            },
            "jurisdiction": state.jurisdiction,
            "minor": None
            if minor is None
            else {
                "is_minor": minor.is_minor,
                "comes_of_age_at": minor.comes_of_age_at.isoformat()
                if minor.comes_of_age_at
                else None,
                "guardian": minor.guardian,
            },
        }

    def _entries_of(self, session: Session, workspace_id: str, keys: Sequence[Key]) -> list[Any]:
        k, e = consent_entry_keys.c, consent_entries.c
        ids = {
            r
            for chunk in _chunks(keys)
            for r in session.execute(
                select(k.entry_id).where(k.workspace_id == workspace_id, _keys_match(k, chunk))
            ).scalars()
        }
        rows = [
            r
            for chunk in _chunks(sorted(ids))
            for r in session.execute(select(consent_entries).where(e.entry_id.in_(chunk)))
        ]
        return sorted(rows, key=lambda r: (aware(r.occurred_at), r.entry_id))

    def erase(self, workspace_id: str, keys: Sequence[Key]) -> dict[str, int]:
        """Delete the subject's ledger entries, states and minor status. Entries it decided as
        someone's guardian keep the decision but lose the guardian's identifiers. The `erasers`
        run in the same transaction (the audit log keeps accesses, not whose they were)."""
        e, k, s, m = consent_entries.c, consent_entry_keys.c, consent_state.c, minors.c
        counts = {
            "consent_entries": 0,
            "consent_entry_keys": 0,
            "consent_entries_guardian_redacted": 0,
            "consent_state": 0,
            "minors": 0,
            "minors_guardian_redacted": 0,
        }

        def run(table: str, statement: Any) -> None:
            counts[table] += affected(session.execute(statement))

        with self.db.write() as session:
            self.writer.lock(session)
            entries = self._entries_of(session, workspace_id, keys)
            wanted = {tuple(key) for key in keys}
            own = [r.entry_id for r in entries if any(tuple(x) in wanted for x in r.subject)]
            guarded = [r for r in entries if r.entry_id not in own]
            for chunk in _chunks(own):
                run("consent_entry_keys", delete(consent_entry_keys).where(k.entry_id.in_(chunk)))
                run("consent_entries", delete(consent_entries).where(e.entry_id.in_(chunk)))
            for r in guarded:
                run(
                    "consent_entries_guardian_redacted",
                    update(consent_entries)
                    .where(e.entry_id == r.entry_id)
                    .values(guardian=[g for g in r.guardian if tuple(g) not in wanted]),
                )
                for chunk in _chunks(keys):
                    run(
                        "consent_entry_keys",
                        delete(consent_entry_keys).where(
                            k.workspace_id == workspace_id,
                            k.entry_id == r.entry_id,
                            _keys_match(k, chunk),
                        ),
                    )
            # Minors whose guardian this subject was keep their status, not the guardian's ids.
            for r in session.execute(select(minors).where(m.workspace_id == workspace_id)).all():
                kept = [g for g in r.guardian if tuple(g) not in wanted]
                if len(kept) != len(r.guardian):
                    run(
                        "minors_guardian_redacted",
                        update(minors)
                        .where(m.workspace_id == workspace_id, m.kind == r.kind, m.value == r.value)
                        .values(guardian=kept),
                    )
            # Past feed entries naming the subject go too (consumers that read them already
            # dropped nothing they would not drop on erasure; the payloads are protobuf, so the
            # workspace's entries are read and matched here).
            f = consent_changes.c
            stale = [
                r.seq
                for r in session.execute(
                    select(f.seq, f.payload).where(
                        f.workspace_id == workspace_id,
                        f.kind.in_(["consent.recorded", "consent.minor_status_changed"]),
                    )
                )
                if _names(pb.ConsentChange.FromString(r.payload), wanted)
            ]
            counts["consent_changes"] = 0
            for chunk in _chunks(stale):
                run("consent_changes", delete(consent_changes).where(f.seq.in_(chunk)))
            for chunk in _chunks(keys):
                run(
                    "consent_state",
                    delete(consent_state).where(
                        s.workspace_id == workspace_id, _keys_match(s, chunk)
                    ),
                )
                run(
                    "minors",
                    delete(minors).where(m.workspace_id == workspace_id, _keys_match(m, chunk)),
                )
            for eraser in self.erasers:
                for table, rows in eraser(session, workspace_id, keys).items():
                    counts[table] = counts.get(table, 0) + rows
        return counts


def _names(change: pb.ConsentChange, keys: set[tuple[str, ...]]) -> bool:
    """Whether a feed entry names one of the subject's keys."""
    if change.profile_id and ("profile_id", change.profile_id) in keys:
        return True
    values = {value for _, value in keys}
    for identifier in change.identifiers:
        value = identifier.value
        if identifier.namespace:
            value = f"{identifier.namespace}:{value}"
        if value in values:
            return True
    return False


def entry_json(r: Any) -> dict[str, Any]:
    return {
        "entry_id": r.entry_id,
        "request_id": r.request_id,
        "purpose": r.purpose,
        "status": r.status,
        "legal_basis": r.legal_basis,
        "policy_version": r.policy_version,
        "source": r.source,
        "channel": r.channel,
        "occurred_at": aware(r.occurred_at).isoformat(),
        "recorded_at": aware(r.recorded_at).isoformat(),
        "proof_reference": r.proof_reference,
        "jurisdiction": r.jurisdiction,
        "subject": r.subject,
        "guardian": r.guardian,
    }


def _keys_match(columns: Any, keys: Iterable[Sequence[str]]) -> ColumnElement[bool]:
    """`(kind, value) IN keys` as one `kind = ? AND value IN (...)` per kind: a range of the
    (workspace_id, kind, value) primary key. A row-value IN list makes SQLite scan every row of
    the workspace."""
    grouped: dict[str, set[str]] = {}
    for kind, value in keys:
        grouped.setdefault(kind, set()).add(value)
    if not grouped:
        return false()
    return or_(
        *(
            and_(columns.kind == kind, columns.value.in_(sorted(values)))
            for kind, values in sorted(grouped.items())
        )
    )


def _chunks(items: Iterable[Any]) -> list[list[Any]]:
    listed = list(items)
    return [listed[i : i + CHUNK] for i in range(0, len(listed), CHUNK)]


def encode_token(at: datetime, entry_id: str) -> str:
    return base64.urlsafe_b64encode(f"{aware(at).isoformat()}|{entry_id}".encode()).decode()


def decode_token(token: str) -> tuple[datetime, str]:
    try:
        at, entry_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), entry_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument.field("page_token", "is not a token this service issued") from None
