"""Profiles by tag (标签)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from precis.profile.v1 import profile_pb2
from precis_gateway.deps import ProfileStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.models import TaggedProfiles
from precis_gateway.profile_views import profile_view
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1/tags", tags=["profiles"], responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS)
)


@router.get(
    "/{tag}/profiles",
    summary="Profiles carrying a tag",
    description="Profiles with the tag, in a stable order, with cursor pagination.",
    dependencies=[requires(Scope.PROFILES_READ)],
)
def list_tagged_profiles(
    workspace: WorkspaceDep,
    stub: ProfileStub,
    settings: SettingsDep,
    tag: Annotated[str, Path(min_length=1, max_length=64, description="Tag name.")],
    page_size: Annotated[int, Query(ge=1, le=500, description="Profiles per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
    ] = None,
) -> TaggedProfiles:
    response = call(
        stub.ListProfilesByTag,
        profile_pb2.ListProfilesByTagRequest(tag=tag, page_size=page_size, page_token=cursor or ""),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return TaggedProfiles(
        profiles=[profile_view(p) for p in response.profiles],
        next_cursor=response.next_page_token or None,
    )
