"""What the uplift models read from the measurement service: a campaign and its subjects.

Segmentation and measurement call each other: measurement enrolls segment members
(ListSegmentMembers), and segmentation trains uplift models on a campaign's outcomes
(ListCampaignSubjects). Neither needs the other to start: segmentation only calls measurement
while an uplift model is requested or trained, and a measurement service that is down makes that
request UNAVAILABLE (at request time) or the job fail with the reason (while training), never
anything else of this service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
import numpy as np

from precis.measurement.v1 import measurement_pb2 as mpb
from precis.measurement.v1 import measurement_pb2_grpc
from precis_common.errors import FailedPrecondition, InvalidArgument, Unavailable
from precis_common.grpc_client import workspace_metadata
from precis_segmentation.families.uplift import CampaignSubjects

PAGE_SIZE = 10_000
HOLDOUT = "holdout"


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    """What training needs to know about a campaign before it starts."""

    campaign_id: str
    start_time: datetime
    arm_ids: tuple[str, ...]
    holdout_share: float


class MeasurementCampaigns:
    """Reads campaigns and their subjects from the measurement service over gRPC."""

    def __init__(self, channel: grpc.Channel, deadline: float = 30.0) -> None:
        self._stub = measurement_pb2_grpc.MeasurementServiceStub(channel)
        self._deadline = deadline

    def campaign(self, workspace: str, campaign_id: str, *, field: str) -> CampaignFacts:
        """The campaign; InvalidArgument on ``field`` when there is none, Unavailable when the
        measurement service cannot answer."""
        try:
            response = self._stub.GetCampaign(
                mpb.GetCampaignRequest(campaign_id=campaign_id),
                timeout=self._deadline,
                metadata=workspace_metadata(workspace),
            )
        except grpc.RpcError as exc:
            raise _mapped(exc, field, campaign_id) from None
        c = response.campaign
        return CampaignFacts(
            campaign_id=c.campaign_id,
            start_time=c.start_time.ToDatetime(tzinfo=UTC),
            arm_ids=tuple(a.arm_id for a in c.arms),
            holdout_share=c.holdout_share,
        )

    def subjects(self, workspace: str, campaign_id: str, arm_id: str) -> CampaignSubjects:
        """Every subject of the campaign (all pages): treated = an arm (``arm_id`` only, when
        given; other arms are left out), control = the holdout; converted = at least one
        attributed conversion."""
        ids: list[str] = []
        treated: list[bool] = []
        converted: list[bool] = []
        token = ""
        while True:
            try:
                page = self._stub.ListCampaignSubjects(
                    mpb.ListCampaignSubjectsRequest(
                        campaign_id=campaign_id, page_size=PAGE_SIZE, page_token=token
                    ),
                    timeout=self._deadline,
                    metadata=workspace_metadata(workspace),
                )
            except grpc.RpcError as exc:
                raise _mapped(exc, "parameters.campaign_id", campaign_id) from None
            for s in page.subjects:
                if arm_id and not s.holdout and s.arm_id != arm_id:
                    continue
                ids.append(s.profile_id)
                treated.append(not s.holdout)
                converted.append(s.conversions > 0)
            token = page.next_page_token
            if not token:
                break
        return CampaignSubjects(
            tuple(ids), np.array(treated, dtype=np.bool_), np.array(converted, dtype=np.bool_)
        )


def _mapped(exc: grpc.RpcError, field: str, campaign_id: str) -> Exception:
    code = exc.code() if hasattr(exc, "code") else None
    detail = exc.details() if hasattr(exc, "details") else ""
    if code == grpc.StatusCode.NOT_FOUND:
        return InvalidArgument.field(field, f"no campaign {campaign_id!r} in this workspace")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument.field(field, f"the measurement service refused it: {detail}")
    if code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED):
        return FailedPrecondition(f"campaign {campaign_id}: {detail}")
    return Unavailable(
        f"the measurement service did not answer ({code.name if code else 'error'}): "
        f"{detail or 'try again later'}"
    )
