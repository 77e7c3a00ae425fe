"""Retention on the data-holding side: what ApplyRetention asks (a data kind, a cutoff per
workspace and a default cutoff for the rest) as a SQL condition over a table's workspace and time
columns. The policies themselves live in the consent service (precis_consent.retention), which
calls every service's PrivacyService.ApplyRetention on its schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, or_

from precis.common.v1 import privacy_pb2
from precis.consent.v1 import consent_pb2
from precis_common.errors import InvalidArgument

DEFAULT_MAX_ROWS = 10_000
MAX_ROWS = 100_000
# "raw_events", "inactive_profiles", ...: the DataKind names the RPC carries.
DATA_KINDS = {
    name.removeprefix("DATA_KIND_").lower(): number
    for name, number in consent_pb2.DataKind.items()
    if number != consent_pb2.DATA_KIND_UNSPECIFIED
}


@dataclass(frozen=True, slots=True)
class RetentionScope:
    data_kind: str
    default_cutoff: datetime | None  # None: keep the data of unlisted workspaces
    cutoffs: dict[str, datetime | None]  # workspace -> cutoff (None: keep)
    max_rows: int

    @classmethod
    def from_request(cls, request: privacy_pb2.ApplyRetentionRequest) -> RetentionScope:
        if request.data_kind not in DATA_KINDS:
            raise InvalidArgument.field(
                "data_kind", f"must be one of {', '.join(sorted(DATA_KINDS))}"
            )
        if not 0 <= request.max_rows <= MAX_ROWS:
            raise InvalidArgument.field("max_rows", f"must be between 0 and {MAX_ROWS}")
        cutoffs: dict[str, datetime | None] = {}
        for i, item in enumerate(request.workspaces):
            if not item.workspace_id or item.workspace_id in cutoffs:
                raise InvalidArgument.field(
                    f"workspaces[{i}].workspace_id", "must be given, once per workspace"
                )
            cutoffs[item.workspace_id] = (
                item.cutoff.ToDatetime(tzinfo=UTC) if item.HasField("cutoff") else None
            )
        return cls(
            data_kind=request.data_kind,
            default_cutoff=(
                request.default_cutoff.ToDatetime(tzinfo=UTC)
                if request.HasField("default_cutoff")
                else None
            ),
            cutoffs=cutoffs,
            max_rows=request.max_rows or DEFAULT_MAX_ROWS,
        )

    def expired(
        self, workspace: ColumnElement[str], time: ColumnElement[datetime]
    ) -> ColumnElement[bool] | None:
        """Rows past their workspace's cutoff, or None when every workspace keeps its data."""
        clauses: list[ColumnElement[bool]] = [
            and_(workspace == ws, time < cutoff)
            for ws, cutoff in sorted(self.cutoffs.items())
            if cutoff is not None
        ]
        if self.default_cutoff is not None:
            others = workspace.not_in(sorted(self.cutoffs)) if self.cutoffs else None
            clauses.append(
                and_(others, time < self.default_cutoff)
                if others is not None
                else time < self.default_cutoff
            )
        return or_(*clauses) if clauses else None


def response(
    service: str, erased: dict[str, int] | None, more: bool = False
) -> privacy_pb2.ApplyRetentionResponse:
    """The answer of ApplyRetention; erased=None when the service holds no data of the kind."""
    return privacy_pb2.ApplyRetentionResponse(
        service=service,
        erased=[privacy_pb2.ErasedRows(table=t, rows=n) for t, n in sorted((erased or {}).items())],
        more=more,
        held=erased is not None,
    )
