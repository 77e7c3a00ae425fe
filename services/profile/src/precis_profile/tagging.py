"""Tag definitions (标签) and the upkeep of rule-based tags.

A tag is manual (put on and taken off through SetTag) or rule-based: carried by exactly the
profiles whose traits and computed traits match its rule (precis_profile.tagrules). Rule tags
are stored like manual ones, in profile_tags with source "rule", so that listing profiles by
tag is one indexed read either way. They are brought up to date:
  - for every profile of the workspace when the definition is created or changed;
  - for the profiles a batch of events touched, in the same transaction as the batch;
  - for the profiles an unmerge produced;
  - for every profile on the scheduled refresh (days since the last order and RFM scores move
    with time, not only with events).

Decisions:
  - tags used through SetTag without a definition are manual tags; a definition is needed only
    for a rule or a description. SetTag on a rule tag is refused: its rule decides;
  - turning a rule tag into a manual one keeps the profiles that carry it (they become manual
    tags); turning a manual tag into a rule tag replaces its holders by the rule's matches;
  - deleting a definition removes the tag from every profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from precis_common.db import affected
from precis_common.errors import FailedPrecondition, InvalidArgument, NotFound
from precis_profile.store import profile_tags, tag_definitions
from precis_profile.tagrules import Rule, matches, parse_rule, rule_to_json

MANUAL = "manual"
RULE = "rule"
MAX_DESCRIPTION = 500
MAX_DEFINITIONS = 500
CHUNK = 400

# (profile_id, {"computed": ..., "traits": ...}) for the given profile ids, or every live
# profile of the workspace when None.
DocSource = Callable[[Session, str, list[str] | None], Iterator[tuple[str, Mapping[str, Any]]]]


@dataclass(frozen=True, slots=True)
class TagDefinition:
    tag: str
    kind: str
    rule: Rule | None
    description: str
    updated_at: datetime | None = None
    profile_count: int = 0

    def rule_json(self) -> dict[str, Any] | None:
        return rule_to_json(self.rule) if self.rule is not None else None


def definition(tag: str, kind: str, rule_doc: Any, description: str) -> TagDefinition:
    """A validated definition (InvalidArgument names the field)."""
    if kind not in (MANUAL, RULE):
        raise InvalidArgument.field("definition.kind", "must be manual or rule")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidArgument.field(
            "definition.description", f"must be at most {MAX_DESCRIPTION} characters"
        )
    if kind == MANUAL:
        if rule_doc is not None:
            raise InvalidArgument.field("definition.rule_json", "must be empty for a manual tag")
        return TagDefinition(tag, MANUAL, None, description)
    if rule_doc is None:
        raise InvalidArgument.field("definition.rule_json", "is required for a rule tag")
    return TagDefinition(tag, RULE, parse_rule(rule_doc, "definition.rule_json"), description)


def rule_tags(session: Session, workspace_id: str) -> dict[str, Rule]:
    d = tag_definitions.c
    return {
        r.tag: parse_rule(r.rule)
        for r in session.execute(
            select(d.tag, d.rule).where(d.workspace_id == workspace_id, d.kind == RULE)
        )
    }


def definitions(session: Session, workspace_id: str) -> list[TagDefinition]:
    d, t = tag_definitions.c, profile_tags.c
    counts: dict[str, int] = {
        r.tag: int(r.n)
        for r in session.execute(
            select(t.tag, func.count().label("n"))
            .where(t.workspace_id == workspace_id)
            .group_by(t.tag)
        )
    }
    return [
        TagDefinition(
            r.tag,
            r.kind,
            parse_rule(r.rule) if r.rule is not None else None,
            r.description,
            r.updated_at,
            int(counts.get(r.tag, 0)),
        )
        for r in session.execute(
            select(tag_definitions).where(d.workspace_id == workspace_id).order_by(d.tag)
        )
    ]


def kind_of(session: Session, workspace_id: str, tag: str) -> str | None:
    d = tag_definitions.c
    return session.execute(
        select(d.kind).where(d.workspace_id == workspace_id, d.tag == tag)
    ).scalar_one_or_none()


def refuse_rule_tag(session: Session, workspace_id: str, tag: str) -> None:
    if kind_of(session, workspace_id, tag) == RULE:
        raise FailedPrecondition(
            f"tag {tag!r} is rule-based: its rule decides which profiles carry it "
            "(change the rule, or make it a manual tag first)"
        )


def put(
    session: Session, workspace_id: str, new: TagDefinition, docs: DocSource
) -> tuple[TagDefinition, set[str]]:
    """Store the definition and bring the tag up to date on every profile; returns the stored
    definition (with its profile count) and the profiles whose tags changed."""
    d, t = tag_definitions.c, profile_tags.c
    now = datetime.now(UTC)
    values = {
        "kind": new.kind,
        "rule": new.rule_json(),
        "description": new.description,
        "updated_at": now,
    }
    old_kind = kind_of(session, workspace_id, new.tag)
    if old_kind is None:
        count = session.execute(
            select(func.count()).select_from(tag_definitions).where(d.workspace_id == workspace_id)
        ).scalar_one()
        if count >= MAX_DEFINITIONS:
            raise FailedPrecondition(
                f"the workspace has {MAX_DEFINITIONS} tag definitions, the most it may have"
            )
        session.execute(
            tag_definitions.insert().values(workspace_id=workspace_id, tag=new.tag, **values)
        )
    else:
        session.execute(
            update(tag_definitions)
            .where(d.workspace_id == workspace_id, d.tag == new.tag)
            .values(**values)
        )
    changed: set[str] = set()
    where = (t.workspace_id == workspace_id, t.tag == new.tag)
    if new.kind == MANUAL:
        # Rule holders become manual holders.
        session.execute(update(profile_tags).where(*where).values(source=MANUAL))
    else:
        assert new.rule is not None
        # Former manual holders are judged by the rule like everyone else.
        session.execute(update(profile_tags).where(*where).values(source=RULE))
        changed = retag(session, workspace_id, None, {new.tag: new.rule}, docs)
    count = session.execute(
        select(func.count()).select_from(profile_tags).where(*where)
    ).scalar_one()
    stored = TagDefinition(new.tag, new.kind, new.rule, new.description, now, int(count))
    return stored, changed


def delete_definition(session: Session, workspace_id: str, tag: str) -> list[str]:
    """Remove the definition and the tag from every profile; returns those profiles."""
    d, t = tag_definitions.c, profile_tags.c
    removed = affected(
        session.execute(delete(tag_definitions).where(d.workspace_id == workspace_id, d.tag == tag))
    )
    holders = list(
        session.execute(
            select(t.profile_id).where(t.workspace_id == workspace_id, t.tag == tag)
        ).scalars()
    )
    if not removed and not holders:
        raise NotFound(f"no tag {tag!r} is defined or in use in this workspace")
    session.execute(delete(profile_tags).where(t.workspace_id == workspace_id, t.tag == tag))
    return holders


def retag(
    session: Session,
    workspace_id: str,
    profile_ids: Iterable[str] | None,
    rules: Mapping[str, Rule],
    docs: DocSource,
) -> set[str]:
    """Make the rule tags `rules` right on the given profiles (every live profile when None):
    insert the tags that now match, delete the ones that no longer do. Returns the profiles
    whose tags changed."""
    if not rules:
        return set()
    t = profile_tags.c
    ids = None if profile_ids is None else sorted(set(profile_ids))
    wanted: set[tuple[str, str]] = set()
    seen: list[str] = []
    for profile_id, doc in docs(session, workspace_id, ids):
        seen.append(profile_id)
        wanted.update((profile_id, tag) for tag, rule in rules.items() if matches(rule, doc))
    have: set[tuple[str, str]] = set()
    tags = sorted(rules)
    if ids is None:
        have.update(
            (r.profile_id, r.tag)
            for r in session.execute(
                select(t.profile_id, t.tag).where(t.workspace_id == workspace_id, t.tag.in_(tags))
            )
        )
    else:
        for start in range(0, len(ids), CHUNK):
            have.update(
                (r.profile_id, r.tag)
                for r in session.execute(
                    select(t.profile_id, t.tag).where(
                        t.workspace_id == workspace_id,
                        t.tag.in_(tags),
                        t.profile_id.in_(ids[start : start + CHUNK]),
                    )
                )
            )
    # A profile that no longer exists (merged away) keeps nothing: its tags moved on merge.
    live = set(seen)
    stale = sorted(pair for pair in have - wanted if pair[0] in live or ids is None)
    fresh = sorted(wanted - have)
    for start in range(0, len(stale), CHUNK):
        session.execute(
            delete(profile_tags).where(
                t.workspace_id == workspace_id,
                tuple_(t.profile_id, t.tag).in_(stale[start : start + CHUNK]),
            )
        )
    if fresh:
        now = datetime.now(UTC)
        session.execute(
            profile_tags.insert(),
            [
                {
                    "workspace_id": workspace_id,
                    "profile_id": pid,
                    "tag": tag,
                    "source": RULE,
                    "created_at": now,
                }
                for pid, tag in fresh
            ],
        )
    return {pid for pid, _ in stale} | {pid for pid, _ in fresh}
