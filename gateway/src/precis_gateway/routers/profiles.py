"""Unified customer profiles (read from the profile service)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query

from precis.profile.v1 import profile_pb2
from precis_common.identifiers import MAX_IDENTIFIER_LENGTH
from precis_gateway.deps import CallerDep, ProfileStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.disclosure import disclose
from precis_gateway.errors import ApiError, ErrorDetail
from precis_gateway.models import (
    MergeHistory,
    MergeRecord,
    Profile,
    ProfilePage,
    TimelineEvent,
    TimelinePage,
    UnmergeRequest,
    UnmergeResult,
)
from precis_gateway.profile_views import identifier_from_path, identifier_type_name, profile_view
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1/profiles",
    tags=["profiles"],
    responses=error_responses(401, 403, 422, 501, *UPSTREAM_ERRORS),
)


@router.get(
    "",
    summary="List profiles",
    description="Profiles of the workspace, newest first, with cursor pagination.",
    dependencies=[requires(Scope.PROFILES_READ)],
)
def list_profiles(
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: ProfileStub,
    settings: SettingsDep,
    page_size: Annotated[int, Query(ge=1, le=500, description="Profiles per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
    ] = None,
) -> ProfilePage:
    response = call(
        stub.ListProfiles,
        profile_pb2.ListProfilesRequest(page_size=page_size, page_token=cursor or ""),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    shown = disclose({"total_count": response.total_count}, caller, k=settings.gateway_small_cell_k)
    return ProfilePage(
        profiles=[profile_view(p) for p in response.profiles],
        next_cursor=response.next_page_token or None,
        total_count=shown["total_count"],
        suppressed_counts=shown.suppressed,
    )


@router.post(
    "/{profile_id}/unmerge",
    summary="Split a profile",
    description=(
        "Detach an identifier into a profile of its own, or undo a merge from the history. The "
        "profile's events are replayed with the two sides kept apart, so identifiers, traits and "
        "counts of both are recomputed from their own events; the two never merge again."
    ),
    responses=error_responses(404, 412),
    dependencies=[requires(Scope.PROFILES_WRITE)],
)
def unmerge(
    body: UnmergeRequest,
    workspace: WorkspaceDep,
    stub: ProfileStub,
    settings: SettingsDep,
    profile_id: Annotated[
        str, Path(min_length=1, max_length=64, description="The profile to split.")
    ],
) -> UnmergeResult:
    request = profile_pb2.UnmergeRequest(profile_id=profile_id, merge_id=body.merge_id or "")
    if body.identifier_type is not None or body.value is not None:
        if body.identifier_type is None or body.value is None:
            missing = "identifier_type" if body.identifier_type is None else "value"
            raise ApiError.invalid(
                [ErrorDetail(field=missing, reason="identifier_type and value go together")]
            )
        request.identifier.CopyFrom(identifier_from_path(body.identifier_type, body.value))
    response = call(
        stub.Unmerge,
        request,
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return UnmergeResult(profiles=[profile_view(p) for p in response.profiles])


TagPath = Annotated[
    str,
    Path(min_length=1, max_length=64, description="Tag name (标签).", examples=["孕期妈妈"]),
]


def _set_tag(
    stub: Any,
    settings: Any,
    workspace: str,
    identifier_type: str,
    value: str,
    tag: str,
    present: bool,
) -> Profile:
    response = call(
        stub.SetTag,
        profile_pb2.SetTagRequest(
            identifier=identifier_from_path(identifier_type, value), tag=tag, present=present
        ),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return profile_view(response.profile)


@router.put(
    "/{identifier_type}/{value}/tags/{tag}",
    summary="Tag a profile",
    description="Adds a tag (标签) to the profile; tagging twice is harmless.",
    responses=error_responses(404),
    dependencies=[requires(Scope.PROFILES_WRITE)],
)
def add_tag(
    workspace: WorkspaceDep,
    stub: ProfileStub,
    settings: SettingsDep,
    identifier_type: Annotated[str, Path(description="Identifier type.", examples=["user_id"])],
    value: Annotated[str, Path(min_length=1, max_length=MAX_IDENTIFIER_LENGTH)],
    tag: TagPath,
) -> Profile:
    return _set_tag(stub, settings, workspace, identifier_type, value, tag, True)


@router.delete(
    "/{identifier_type}/{value}/tags/{tag}",
    summary="Untag a profile",
    description="Removes a tag from the profile; removing a tag it lacks is harmless.",
    responses=error_responses(404),
    dependencies=[requires(Scope.PROFILES_WRITE)],
)
def remove_tag(
    workspace: WorkspaceDep,
    stub: ProfileStub,
    settings: SettingsDep,
    identifier_type: Annotated[str, Path(description="Identifier type.", examples=["user_id"])],
    value: Annotated[str, Path(min_length=1, max_length=MAX_IDENTIFIER_LENGTH)],
    tag: TagPath,
) -> Profile:
    return _set_tag(stub, settings, workspace, identifier_type, value, tag, False)


@router.get(
    "/{identifier_type}/{value}/merges",
    summary="A profile's merge history",
    description=(
        "Merges into the profile (with the event and identifier that caused each, and the rule "
        "that allowed it) and identifiers its events carried that merge rules kept off it."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.PROFILES_READ)],
)
def get_merge_history(
    workspace: WorkspaceDep,
    stub: ProfileStub,
    settings: SettingsDep,
    identifier_type: Annotated[str, Path(description="Identifier type.", examples=["user_id"])],
    value: Annotated[
        str,
        Path(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, description="The identifier's value."),
    ],
) -> MergeHistory:
    response = call(
        stub.GetMergeHistory,
        profile_pb2.GetMergeHistoryRequest(identifier=identifier_from_path(identifier_type, value)),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return MergeHistory(
        records=[
            MergeRecord(
                id=r.merge_id,
                action=r.action,
                profile_id=r.profile_id,
                other_profile_id=r.other_profile_id or None,
                identifier_type=identifier_type_name(r.identifier.type),
                identifier_value=r.identifier.value,
                source_message_id=r.source_message_id,
                rule=r.rule,
                occurred_at=r.occurred_at.ToDatetime(tzinfo=UTC),
            )
            for r in response.records
        ]
    )


@router.get(
    "/{identifier_type}/{value}/events",
    summary="A profile's event timeline",
    description=(
        "The events of the profile an identifier belongs to (including those of profiles merged "
        "into it), newest first, with cursor pagination."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.PROFILES_READ)],
)
def get_timeline(
    workspace: WorkspaceDep,
    stub: ProfileStub,
    settings: SettingsDep,
    identifier_type: Annotated[
        str,
        Path(
            description="user_id, anonymous_id, email, phone, device_id or external:<namespace>.",
            examples=["user_id"],
        ),
    ],
    value: Annotated[
        str,
        Path(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, description="The identifier's value."),
    ],
    page_size: Annotated[int, Query(ge=1, le=500, description="Events per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
    ] = None,
) -> TimelinePage:
    response = call(
        stub.GetTimeline,
        profile_pb2.GetTimelineRequest(
            identifier=identifier_from_path(identifier_type, value),
            page_size=page_size,
            page_token=cursor or "",
        ),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return TimelinePage(
        events=[
            TimelineEvent(
                message_id=e.message_id,
                type=e.type,
                event=e.event,
                timestamp=e.timestamp.ToDatetime(tzinfo=UTC),
                properties=orjson.loads(e.properties_json) if e.properties_json else {},
            )
            for e in response.events
        ],
        next_cursor=response.next_page_token or None,
    )


@router.get(
    "/{identifier_type}/{value:path}",
    summary="Get the profile of an identifier",
    description=(
        "The profile an identifier belongs to, following merges. Email and phone are given in "
        "clear and hashed before lookup."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.PROFILES_READ)],
)
def get_profile(
    workspace: WorkspaceDep,
    stub: ProfileStub,
    settings: SettingsDep,
    identifier_type: Annotated[
        str,
        Path(
            description="user_id, anonymous_id, email, phone, device_id or external:<namespace>.",
            examples=["email"],
        ),
    ],
    value: Annotated[
        str,
        Path(
            min_length=1,
            max_length=MAX_IDENTIFIER_LENGTH,
            description="The identifier's value.",
            examples=["li.na@example.com"],
        ),
    ],
) -> Profile:
    identifier = identifier_from_path(identifier_type, value)
    response = call(
        stub.GetProfile,
        profile_pb2.GetProfileRequest(identifier=identifier),
        service="profile",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return profile_view(response.profile)
