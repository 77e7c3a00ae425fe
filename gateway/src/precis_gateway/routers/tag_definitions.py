"""Tag definitions (标签): manual tags, and rule-based tags kept current by the profile service."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import orjson
from fastapi import APIRouter, Path

from precis.profile.v1 import profile_pb2
from precis_gateway.deps import CallerDep, ProfileStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.disclosure import disclose
from precis_gateway.models import TagDefinition, TagDefinitionBody, TagDefinitions, TagDeleted
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Caller, Scope
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1/tag-definitions",
    tags=["profiles"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)

TagName = Annotated[str, Path(min_length=1, max_length=64, description="Tag name.")]
_KINDS = {"manual": profile_pb2.TAG_KIND_MANUAL, "rule": profile_pb2.TAG_KIND_RULE}
_NAMES = {v: k for k, v in _KINDS.items()}


def _model(d: profile_pb2.TagDefinition, caller: Caller, k: int) -> TagDefinition:
    # Each count stands alone: tags overlap, so no total is shown that they would add up to.
    shown = disclose({"profile_count": d.profile_count}, caller, k=k)
    return TagDefinition(
        tag=d.tag,
        kind=_NAMES[d.kind],  # type: ignore[arg-type]  # the two kinds above
        rule=orjson.loads(d.rule_json) if d.rule_json else None,
        description=d.description,
        profile_count=shown["profile_count"],
        updated_at=d.updated_at.ToDatetime(tzinfo=UTC) if d.HasField("updated_at") else None,
        suppressed_counts=shown.suppressed,
    )


@router.get(
    "",
    summary="List tag definitions",
    description="Every definition, by tag name.",
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def list_tag_definitions(
    workspace: WorkspaceDep, caller: CallerDep, stub: ProfileStub, settings: SettingsDep
) -> TagDefinitions:
    response = call(
        stub.ListTagDefinitions,
        profile_pb2.ListTagDefinitionsRequest(),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    k = settings.gateway_small_cell_k
    return TagDefinitions(definitions=[_model(d, caller, k) for d in response.definitions])


@router.put(
    "/{tag}",
    summary="Create or replace a tag definition",
    description=(
        "A rule tag is evaluated against every profile before this returns and kept current "
        "from then on (as events arrive, on unmerge, and on the scheduled refresh, since "
        "recency moves with time). Turning a rule tag manual keeps its holders; turning a "
        "manual tag into a rule tag replaces them by the rule's matches."
    ),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def put_tag_definition(
    tag: TagName,
    body: TagDefinitionBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: ProfileStub,
    settings: SettingsDep,
) -> TagDefinition:
    request = profile_pb2.PutTagDefinitionRequest(
        definition=profile_pb2.TagDefinition(
            tag=tag,
            kind=_KINDS[body.kind],
            rule_json=orjson.dumps(body.rule) if body.rule is not None else b"",
            description=body.description,
        )
    )
    response = call(
        stub.PutTagDefinition,
        request,
        service="profile",
        workspace=workspace,
        # Evaluating a new rule reads every profile of the workspace.
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    return _model(response.definition, caller, settings.gateway_small_cell_k)


@router.delete(
    "/{tag}",
    summary="Delete a tag definition",
    description="Removes the definition and the tag from every profile.",
    responses=error_responses(404),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def delete_tag_definition(
    tag: TagName,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: ProfileStub,
    settings: SettingsDep,
) -> TagDeleted:
    response = call(
        stub.DeleteTagDefinition,
        profile_pb2.DeleteTagDefinitionRequest(tag=tag),
        service="profile",
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    shown = disclose(
        {"profiles_untagged": response.profiles_untagged}, caller, k=settings.gateway_small_cell_k
    )
    return TagDeleted(
        profiles_untagged=shown["profiles_untagged"], suppressed_counts=shown.suppressed
    )
