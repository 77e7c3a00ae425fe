"""The workspace's life-stage rule (expecting, newborn, infant, ...)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter

from precis.profile.v1 import profile_pb2
from precis_gateway.deps import ProfileStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.models import LifeStageRule, LifeStageRuleState
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1/life-stage-rule",
    tags=["profiles"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)


def _state(rule_json: bytes, is_default: bool) -> LifeStageRuleState:
    return LifeStageRuleState(**orjson.loads(rule_json), is_default=is_default)


@router.get(
    "",
    summary="Get the life-stage rule",
    description="The rule in force.",
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def get_life_stage_rule(
    workspace: WorkspaceDep, stub: ProfileStub, settings: SettingsDep
) -> LifeStageRuleState:
    response = call(
        stub.GetLifeStageRule,
        profile_pb2.GetLifeStageRuleRequest(),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return _state(response.rule_json, response.is_default)


def _set(
    rule_json: bytes, workspace: str, stub: ProfileStub, settings: SettingsDep
) -> LifeStageRuleState:
    response = call(
        stub.SetLifeStageRule,
        profile_pb2.SetLifeStageRuleRequest(rule_json=rule_json),
        service="profile",
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    return _state(response.rule_json, response.is_default)


@router.put(
    "",
    summary="Replace the life-stage rule",
    description=(
        "Stages are computed when a profile is read, so every profile shows the new stages at "
        "once; rule tags on computed.life_stage are re-evaluated before this returns."
    ),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def set_life_stage_rule(
    body: LifeStageRule, workspace: WorkspaceDep, stub: ProfileStub, settings: SettingsDep
) -> LifeStageRuleState:
    return _set(orjson.dumps(body.model_dump(exclude_none=True)), workspace, stub, settings)


@router.delete(
    "",
    summary="Restore the default life-stage rule",
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def reset_life_stage_rule(
    workspace: WorkspaceDep, stub: ProfileStub, settings: SettingsDep
) -> LifeStageRuleState:
    return _set(b"", workspace, stub, settings)
