"""gRPC transport of the profile service."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import grpc
import orjson

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc, types_pb2
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis_common.errors import InvalidArgument
from precis_common.feed import to_timestamp
from precis_common.grpc_server import workspace_of
from precis_common.identifiers import IdentifierKind, PiiHasher, mask_hash
from precis_common.privacy import (
    KIND_FROM_PROTO,
    PROTO_FROM_KIND,
    identifier_of,
    stored_key,
    subject_values,
)
from precis_common.retention import RetentionScope
from precis_common.retention import response as retention_response
from precis_profile import tagging
from precis_profile.computed import breaks_to_json
from precis_profile.identity import MergeRules, TypeRule, validate_rules
from precis_profile.lifestage import LifeStageConfig
from precis_profile.profiles import ProfileStore, ProfileView
from precis_profile.timeutil import aware

MAX_PAGE = 500
DEFAULT_PAGE = 50


def to_proto(view: ProfileView) -> profile_pb2.Profile:
    row = view.row
    profile = profile_pb2.Profile(
        profile_id=row.profile_id,
        traits_json=orjson.dumps(row.traits),
        computed_traits_json=orjson.dumps(view.computed),
        event_count=row.event_count,
        event_counts=row.event_counts,
        merged_profile_ids=view.merged_ids,
        tags=view.tags,
    )
    sources = row.trait_sources or {}
    for name in sorted(row.traits):
        value = row.traits[name]
        origin = sources.get(name) or {}
        trait = profile_pb2.TraitValue(
            name=name,
            value_json=orjson.dumps(value),
            type=trait_type(value),
            source=origin.get("source", ""),
            source_message_id=origin.get("message_id", ""),
        )
        at = row.trait_times.get(name)
        if at:
            trait.updated_at.CopyFrom(to_timestamp(datetime.fromisoformat(at)))
        profile.trait_values.append(trait)
    if row.first_seen:
        profile.first_seen.CopyFrom(to_timestamp(row.first_seen))
    if row.last_seen:
        profile.last_seen.CopyFrom(to_timestamp(row.last_seen))
    for link in view.links:
        kind_text, _, namespace = link.kind.partition(":")
        kind = IdentifierKind(kind_text)
        value = link.value
        if kind is IdentifierKind.EXTERNAL:
            value = value.split(":", 1)[1] if ":" in value else value
        shown = mask_hash(value) if kind.is_personal else value
        profile.identifiers.append(
            profile_pb2.LinkedIdentifier(
                identifier=types_pb2.Identifier(
                    type=PROTO_FROM_KIND[kind], value=shown, namespace=namespace
                ),
                source_message_id=link.source_message_id,
                linked_at=to_timestamp(link.linked_at),
            )
        )
    return profile


def trait_type(value: object) -> str:
    """The type a trait's JSON value is shown with; ISO 8601 dates and date-times are told apart
    from other strings so that tools can offer date comparisons on them."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        if _DATE.match(value):
            try:
                date.fromisoformat(value)
                return "date"
            except ValueError:
                return "string"
        if _DATETIME.match(value):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                return "datetime"
            except ValueError:
                return "string"
    return "string"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso(value: datetime | None) -> str | None:
    moment = aware(value)
    return moment.isoformat() if moment else None


def _page_size(value: int) -> int:
    if value < 0 or value > MAX_PAGE:
        raise InvalidArgument.field("page_size", f"must be between 1 and {MAX_PAGE}")
    return value or DEFAULT_PAGE


class ProfileServicer(profile_pb2_grpc.ProfileServiceServicer):
    def __init__(self, store: ProfileStore, hasher: PiiHasher) -> None:
        self._store = store
        self._hasher = hasher

    def _key(self, workspace: str, identifier: types_pb2.Identifier) -> tuple[str, str]:
        return stored_key(self._hasher, workspace, identifier, field="identifier")

    def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetProfileResponse:
        workspace = workspace_of(context)
        view = self._store.get(workspace, *self._key(workspace, request.identifier))
        return profile_pb2.GetProfileResponse(profile=to_proto(view))

    def ListProfiles(
        self, request: profile_pb2.ListProfilesRequest, context: grpc.ServicerContext
    ) -> profile_pb2.ListProfilesResponse:
        workspace = workspace_of(context)
        views, token, total = self._store.page(
            workspace, _page_size(request.page_size), request.page_token
        )
        return profile_pb2.ListProfilesResponse(
            profiles=[to_proto(v) for v in views], next_page_token=token, total_count=total
        )

    def GetTimeline(
        self, request: profile_pb2.GetTimelineRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetTimelineResponse:
        workspace = workspace_of(context)
        rows, token = self._store.timeline(
            workspace,
            *self._key(workspace, request.identifier),
            _page_size(request.page_size),
            request.page_token,
        )
        return profile_pb2.GetTimelineResponse(
            events=[
                profile_pb2.TimelineEvent(
                    message_id=r.message_id,
                    type=r.event_type,
                    event=r.event_name,
                    timestamp=to_timestamp(r.event_time),
                    properties_json=r.properties_json or b"{}",
                )
                for r in rows
            ],
            next_page_token=token,
        )

    def Unmerge(
        self, request: profile_pb2.UnmergeRequest, context: grpc.ServicerContext
    ) -> profile_pb2.UnmergeResponse:
        workspace = workspace_of(context)
        if not request.profile_id:
            raise InvalidArgument.field("profile_id", "is required")
        has_identifier = request.HasField("identifier") and request.identifier.type != 0
        if has_identifier == bool(request.merge_id):
            raise InvalidArgument.field(
                "identifier", "give exactly one of identifier (to detach) or merge_id (to undo)"
            )
        key = None
        if has_identifier:
            key = self._key(workspace, request.identifier)
        resulting = self._store.unmerge(workspace, request.profile_id, key, request.merge_id)
        views = [self._store.view_by_id(workspace, pid) for pid in resulting]
        return profile_pb2.UnmergeResponse(profiles=[to_proto(v) for v in views])

    def DryRunMergeRules(
        self, request: profile_pb2.DryRunMergeRulesRequest, context: grpc.ServicerContext
    ) -> profile_pb2.DryRunMergeRulesResponse:
        workspace = workspace_of(context)
        rules = rules_from_proto(request.rules, self._hasher, workspace)
        return profile_pb2.DryRunMergeRulesResponse(**self._store.dry_run(workspace, rules))

    def SetTag(
        self, request: profile_pb2.SetTagRequest, context: grpc.ServicerContext
    ) -> profile_pb2.SetTagResponse:
        workspace = workspace_of(context)
        tag = check_tag(request.tag)
        view = self._store.set_tag(
            workspace, *self._key(workspace, request.identifier), tag, request.present
        )
        return profile_pb2.SetTagResponse(profile=to_proto(view))

    def PutTagDefinition(
        self, request: profile_pb2.PutTagDefinitionRequest, context: grpc.ServicerContext
    ) -> profile_pb2.PutTagDefinitionResponse:
        workspace = workspace_of(context)
        given = request.definition
        tag = check_tag(given.tag, field="definition.tag")
        kind = _TAG_KINDS.get(given.kind)
        if kind is None:
            raise InvalidArgument.field(
                "definition.kind", "must be TAG_KIND_MANUAL or TAG_KIND_RULE"
            )
        rule_doc = None
        if given.rule_json:
            try:
                rule_doc = orjson.loads(given.rule_json)
            except orjson.JSONDecodeError as exc:
                raise InvalidArgument.field(
                    "definition.rule_json", f"is not valid JSON ({exc.msg})"
                ) from None
        new = tagging.definition(tag, kind, rule_doc, given.description)
        stored = self._store.put_tag_definition(workspace, new)
        return profile_pb2.PutTagDefinitionResponse(definition=definition_to_proto(stored))

    def ListTagDefinitions(
        self, request: profile_pb2.ListTagDefinitionsRequest, context: grpc.ServicerContext
    ) -> profile_pb2.ListTagDefinitionsResponse:
        found = self._store.tag_definitions(workspace_of(context))
        return profile_pb2.ListTagDefinitionsResponse(
            definitions=[definition_to_proto(d) for d in found]
        )

    def DeleteTagDefinition(
        self, request: profile_pb2.DeleteTagDefinitionRequest, context: grpc.ServicerContext
    ) -> profile_pb2.DeleteTagDefinitionResponse:
        workspace = workspace_of(context)
        count = self._store.delete_tag_definition(workspace, check_tag(request.tag))
        return profile_pb2.DeleteTagDefinitionResponse(profiles_untagged=count)

    def GetLifeStageRule(
        self, request: profile_pb2.GetLifeStageRuleRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetLifeStageRuleResponse:
        config, is_default = self._store.life_stage_config(workspace_of(context))
        return profile_pb2.GetLifeStageRuleResponse(
            rule_json=orjson.dumps(config.to_json()), is_default=is_default
        )

    def SetLifeStageRule(
        self, request: profile_pb2.SetLifeStageRuleRequest, context: grpc.ServicerContext
    ) -> profile_pb2.SetLifeStageRuleResponse:
        workspace = workspace_of(context)
        config = None
        if request.rule_json:
            try:
                doc = orjson.loads(request.rule_json)
            except orjson.JSONDecodeError as exc:
                raise InvalidArgument.field("rule_json", f"is not valid JSON ({exc.msg})") from None
            config = LifeStageConfig.from_json(doc)
        stored, is_default = self._store.set_life_stage_config(workspace, config)
        return profile_pb2.SetLifeStageRuleResponse(
            rule_json=orjson.dumps(stored.to_json()), is_default=is_default
        )

    def ListProfilesByTag(
        self, request: profile_pb2.ListProfilesByTagRequest, context: grpc.ServicerContext
    ) -> profile_pb2.ListProfilesByTagResponse:
        workspace = workspace_of(context)
        views, token = self._store.by_tag(
            workspace, check_tag(request.tag), _page_size(request.page_size), request.page_token
        )
        return profile_pb2.ListProfilesByTagResponse(
            profiles=[to_proto(v) for v in views], next_page_token=token
        )

    def RefreshRfm(
        self, request: profile_pb2.RefreshRfmRequest, context: grpc.ServicerContext
    ) -> profile_pb2.RefreshRfmResponse:
        workspace = workspace_of(context)
        result = self._store.refresh_rfm(workspace)
        models = self._store.refresh_predictions(workspace)
        self._store.refresh_tags(workspace)
        breaks = breaks_to_json(result["breaks"])
        return profile_pb2.RefreshRfmResponse(
            as_of=to_timestamp(result["breaks"].as_of),
            population=result["population"],
            cell_sizes=result["cells"],
            breaks_json=orjson.dumps(
                {k: breaks[k] for k in ("recency_days", "frequency", "monetary")}
            ),
            clv_models_json=orjson.dumps(models),
        )

    def GetMergeRules(
        self, request: profile_pb2.GetMergeRulesRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetMergeRulesResponse:
        rules = self._store.rules(workspace_of(context))
        return profile_pb2.GetMergeRulesResponse(rules=rules_to_proto(rules))

    def SetMergeRules(
        self, request: profile_pb2.SetMergeRulesRequest, context: grpc.ServicerContext
    ) -> profile_pb2.SetMergeRulesResponse:
        workspace = workspace_of(context)
        rules = rules_from_proto(request.rules, self._hasher, workspace)
        return profile_pb2.SetMergeRulesResponse(
            rules=rules_to_proto(self._store.set_rules(workspace, rules))
        )

    def GetMergeHistory(
        self, request: profile_pb2.GetMergeHistoryRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetMergeHistoryResponse:
        workspace = workspace_of(context)
        records = self._store.history(workspace, *self._key(workspace, request.identifier))
        return profile_pb2.GetMergeHistoryResponse(
            records=[
                profile_pb2.MergeRecord(
                    merge_id=r["id"],
                    action=r["action"],
                    profile_id=r["profile_id"],
                    other_profile_id=r["other_profile_id"],
                    identifier=_shown_identifier(r["kind"], r["value"]),
                    source_message_id=r["source_message_id"],
                    rule=r["rule"],
                    occurred_at=to_timestamp(r["occurred_at"]),
                )
                for r in records
            ]
        )


def _shown_identifier(stored: str, value: str) -> types_pb2.Identifier:
    identifier = identifier_of((stored, value))
    if stored in ("email", "phone"):
        identifier.value = mask_hash(value)
    return identifier


def rules_to_proto(rules: MergeRules) -> profile_pb2.MergeRules:
    out = profile_pb2.MergeRules()
    for kind_text in rules.priority:
        kind = IdentifierKind(kind_text)
        rule = rules.rule(kind_text)
        out.rules.append(
            profile_pb2.MergeRule(
                type=PROTO_FROM_KIND[kind],
                may_merge=rule.may_merge,
                max_per_profile=rule.max_per_profile,
                blocked_values=sorted(
                    mask_hash(v) if kind.is_personal else v for v in rule.blocked_values
                ),
                priority=rules.rank(kind_text) + 1,
            )
        )
    return out


def rules_from_proto(
    message: profile_pb2.MergeRules, hasher: PiiHasher, workspace: str
) -> MergeRules:
    """Rules given by an administrator: types not mentioned keep their defaults; email and
    phone blocked values are normalized and hashed before they are stored."""
    given: dict[str, TypeRule] = {}
    ranks: dict[str, int] = {}
    for i, rule in enumerate(message.rules):
        field = f"rules[{i}]"
        kind = KIND_FROM_PROTO.get(rule.type)
        if kind is None:
            raise InvalidArgument.field(f"{field}.type", "unknown or unspecified identifier type")
        if rule.namespace:
            raise InvalidArgument.field(
                f"{field}.namespace", "rules apply to every external namespace alike"
            )
        if kind.value in given:
            raise InvalidArgument.field(f"{field}.type", f"{kind.value} appears twice")
        blocked = frozenset(
            hasher.stored_value(workspace, kind, v, field=f"{field}.blocked_values[{j}]")
            if kind.is_personal
            else v
            for j, v in enumerate(rule.blocked_values)
        )
        given[kind.value] = TypeRule(rule.may_merge, rule.max_per_profile, blocked)
        ranks[kind.value] = rule.priority
    defaults = MergeRules()
    priority = sorted(
        defaults.priority,
        key=lambda k: (0, ranks[k]) if k in ranks else (1, defaults.rank(k)),
    )
    return validate_rules(given, priority)


MAX_TAG_LENGTH = 64


def check_tag(tag: str, field: str = "tag") -> str:
    """Tag names: 1-64 printable characters without surrounding spaces (Chinese names such as
    "孕期妈妈" are welcome); compared exactly."""
    if not tag or len(tag) > MAX_TAG_LENGTH or tag != tag.strip() or not tag.isprintable():
        raise InvalidArgument.field(
            field, f"must be 1-{MAX_TAG_LENGTH} printable characters without surrounding spaces"
        )
    return tag


_TAG_KINDS = {
    profile_pb2.TAG_KIND_MANUAL: tagging.MANUAL,
    profile_pb2.TAG_KIND_RULE: tagging.RULE,
}
_TAG_KIND_PROTO = {v: k for k, v in _TAG_KINDS.items()}


def definition_to_proto(d: tagging.TagDefinition) -> profile_pb2.TagDefinition:
    out = profile_pb2.TagDefinition(
        tag=d.tag,
        kind=_TAG_KIND_PROTO[d.kind],
        description=d.description,
        profile_count=d.profile_count,
    )
    rule = d.rule_json()
    if rule is not None:
        out.rule_json = orjson.dumps(rule)
    if d.updated_at is not None:
        out.updated_at.CopyFrom(to_timestamp(aware(d.updated_at) or d.updated_at))
    return out


class ProfilePrivacyServicer(privacy_pb2_grpc.PrivacyServiceServicer):
    def __init__(self, store: ProfileStore, hasher: PiiHasher) -> None:
        self._store = store
        self._hasher = hasher

    def _subject(
        self,
        request: privacy_pb2.ExportSubjectRequest | privacy_pb2.EraseSubjectRequest,
        context: grpc.ServicerContext,
    ) -> tuple[str, dict[IdentifierKind, set[str]], str]:
        workspace = workspace_of(context)
        subject = request.subject
        if not subject.identifiers and not subject.profile_id:
            raise InvalidArgument.field("subject", "give at least one identifier or the profile_id")
        values = (
            subject_values(self._hasher, workspace, list(subject.identifiers))
            if subject.identifiers
            else {}
        )
        return workspace, values, subject.profile_id

    def ExportSubject(
        self, request: privacy_pb2.ExportSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ExportSubjectResponse:
        workspace, values, profile_id = self._subject(request, context)
        bundle = self._store.export(workspace, values, profile_id)
        return privacy_pb2.ExportSubjectResponse(
            service="profile", bundle_json=orjson.dumps(bundle)
        )

    def ApplyRetention(
        self, request: privacy_pb2.ApplyRetentionRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ApplyRetentionResponse:
        """inactive_profiles: profiles whose last event is past the cutoff are erased (max_rows
        counts profiles). raw_events: the profile's copies of events past the cutoff."""
        scope = RetentionScope.from_request(request)
        if scope.data_kind == "inactive_profiles":
            counts, more = self._store.expire_inactive(scope)
        elif scope.data_kind == "raw_events":
            counts, more = self._store.expire_events(scope)
        else:
            return retention_response("profile", None)
        return retention_response("profile", counts, more)

    def EraseSubject(
        self, request: privacy_pb2.EraseSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.EraseSubjectResponse:
        workspace, values, profile_id = self._subject(request, context)
        counts = self._store.erase(workspace, values, profile_id)
        return privacy_pb2.EraseSubjectResponse(
            service="profile",
            erased=[privacy_pb2.ErasedRows(table=t, rows=n) for t, n in sorted(counts.items())],
            erased_at=to_timestamp(datetime.now(UTC)),
        )
