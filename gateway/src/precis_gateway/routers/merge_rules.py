"""A workspace's identity merge rules (read and replaced through the profile service)."""

from __future__ import annotations

from fastapi import APIRouter

from precis.profile.v1 import profile_pb2
from precis_gateway.deps import CallerDep, ProfileStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.disclosure import disclose, disclose_together
from precis_gateway.models import DryRunResult, MergeRule, MergeRules
from precis_gateway.profile_views import identifier_type_name, identifier_type_to_proto
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1/merge-rules",
    tags=["identity"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)


def _to_proto(body: MergeRules) -> profile_pb2.MergeRules:
    return profile_pb2.MergeRules(
        rules=[
            profile_pb2.MergeRule(
                type=identifier_type_to_proto(r.type),
                may_merge=r.may_merge,
                max_per_profile=r.max_per_profile,
                blocked_values=r.blocked_values,
                priority=r.priority,
            )
            for r in body.rules
        ]
    )


def _to_model(rules: profile_pb2.MergeRules) -> MergeRules:
    return MergeRules(
        rules=[
            MergeRule(
                type=identifier_type_name(r.type),  # type: ignore[arg-type]  # checked names
                may_merge=r.may_merge,
                max_per_profile=r.max_per_profile,
                blocked_values=list(r.blocked_values),
                priority=r.priority,
            )
            for r in rules.rules
        ]
    )


@router.get(
    "",
    summary="Get the merge rules",
    description="The rules in force, by priority.",
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def get_merge_rules(
    workspace: WorkspaceDep, stub: ProfileStub, settings: SettingsDep
) -> MergeRules:
    response = call(
        stub.GetMergeRules,
        profile_pb2.GetMergeRulesRequest(),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return _to_model(response.rules)


@router.put(
    "",
    summary="Replace the merge rules",
    description=(
        "Types left out keep their defaults. The rules apply to events processed from now on; "
        "profiles merged earlier are not re-evaluated."
    ),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def set_merge_rules(
    body: MergeRules, workspace: WorkspaceDep, stub: ProfileStub, settings: SettingsDep
) -> MergeRules:
    request = profile_pb2.SetMergeRulesRequest(rules=_to_proto(body))
    response = call(
        stub.SetMergeRules,
        request,
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return _to_model(response.rules)


@router.post(
    "/dry-run",
    summary="Try merge rules on the stored history",
    description=(
        "Replays the workspace's events under the candidate rules and reports how many profiles "
        "would merge or split. Nothing is changed. Refused (412) for workspaces too large to "
        "replay in memory."
    ),
    responses=error_responses(412),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def dry_run_merge_rules(
    body: MergeRules,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: ProfileStub,
    settings: SettingsDep,
) -> DryRunResult:
    response = call(
        stub.DryRunMergeRules,
        profile_pb2.DryRunMergeRulesRequest(rules=_to_proto(body)),
        service="profile",
        workspace=workspace,
        # A replay of the whole history takes longer than an ordinary read.
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    k = settings.gateway_small_cell_k
    before = disclose({"profiles_before": response.profiles_before}, caller, k=k)
    # after = before - merged + pieces split off, and unchanged is what the others leave of
    # before: one small outcome could be worked out from the rest, so they go together.
    outcomes = disclose_together(
        {
            "profiles_after": response.profiles_after,
            "profiles_merged": response.profiles_merged,
            "profiles_split": response.profiles_split,
            "profiles_unchanged": response.profiles_unchanged,
        },
        caller,
        k=k,
    )
    return DryRunResult(
        profiles_before=before["profiles_before"],
        profiles_after=outcomes["profiles_after"],
        profiles_merged=outcomes["profiles_merged"],
        profiles_split=outcomes["profiles_split"],
        profiles_unchanged=outcomes["profiles_unchanged"],
        events_evaluated=response.events_evaluated,
        suppressed_counts=before.suppressed + outcomes.suppressed,
    )
