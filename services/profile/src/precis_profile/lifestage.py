"""Life stage of a customer's youngest child (expecting, newborn, infant, ...) as a pure function.

For workspaces whose customers send a due date or a child's birth date, such as a mother-and-baby
retailer whose offers follow the child: maternity wear, then newborn care, formula, toddler
toys. The stage is a function of the dates and an ``as_of`` day, so the profile service can
recompute it every day without new events, and the rule is per workspace configuration.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from precis_common.errors import InvalidArgument, Violation

NONE = "none"
"""The stage of a profile with no usable dates, or whose youngest child is outside every stage."""

MAX_DUE_AHEAD_DAYS = 45 * 7
"""A due date further ahead than 45 weeks cannot belong to a pregnancy (which lasts about 40)."""

MAX_CHILD_AGE_YEARS = 18

# A birth date from 20 weeks before to 6 weeks after the due date is the birth that due date
# announced (viability starts around 22 weeks of pregnancy; post-term births past 42 weeks are
# induced), so the due date then no longer counts as a child of its own.
BIRTH_BEFORE_DUE_DAYS = 20 * 7
BIRTH_AFTER_DUE_DAYS = 6 * 7


@dataclass(frozen=True, slots=True)
class Stage:
    """One named stage covering child ages in days, ``min_age_days <= age < max_age_days``.

    Before birth the age is negative: minus the days left until the due date.
    """

    name: str
    min_age_days: int
    max_age_days: int


@dataclass(frozen=True, slots=True)
class LifeStageRule:
    """A workspace's stages, youngest first, plus how to treat a due date that has passed.

    Stages must be contiguous and non-overlapping (each starts where the previous one ends), so
    every age maps to at most one stage and a child moves through them in order. When
    ``infer_birth_from_due_date`` is set, a past due date with no matching birth date stands in
    for the birth date: customers rarely come back to report the birth, and a retailer would
    rather move them on to newborn offers than drop them to "none".
    """

    stages: tuple[Stage, ...]
    infer_birth_from_due_date: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        violations = _rule_violations(self.stages)
        if violations:
            raise InvalidArgument(
                "; ".join(f"{v.field}: {v.description}" for v in violations), violations
            )

    @classmethod
    def from_config(
        cls, stages: Sequence[Mapping[str, object]], *, infer_birth_from_due_date: bool = True
    ) -> LifeStageRule:
        """A rule from workspace configuration: a list of ``{name, min_age_days, max_age_days}``."""
        parsed: list[Stage] = []
        for index, item in enumerate(stages):
            name = item.get("name")
            if not isinstance(name, str):
                raise InvalidArgument.field(f"stages[{index}].name", "must be a string")
            bounds: list[int] = []
            for key in ("min_age_days", "max_age_days"):
                value = item.get(key)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidArgument.field(f"stages[{index}].{key}", "must be an integer")
                bounds.append(value)
            parsed.append(Stage(name, bounds[0], bounds[1]))
        return cls(tuple(parsed), infer_birth_from_due_date=infer_birth_from_due_date)

    def stage_for_age(self, age_days: int) -> str:
        """The stage covering a child's age in days, or ``none`` outside every stage."""
        for stage in self.stages:
            if stage.min_age_days <= age_days < stage.max_age_days:
                return stage.name
        return NONE


def _rule_violations(stages: Sequence[Stage]) -> list[Violation]:
    if not stages:
        return [Violation("stages", "must list at least one stage")]
    violations: list[Violation] = []
    seen: set[str] = set()
    for index, stage in enumerate(stages):
        where = f"stages[{index}]"
        if not stage.name or not stage.name.strip():
            violations.append(Violation(f"{where}.name", "must not be empty"))
        elif stage.name == NONE:
            violations.append(Violation(f"{where}.name", f"{NONE!r} is reserved for no stage"))
        elif stage.name in seen:
            violations.append(Violation(f"{where}.name", f"{stage.name!r} is used twice"))
        seen.add(stage.name)
        if stage.max_age_days <= stage.min_age_days:
            violations.append(
                Violation(f"{where}.max_age_days", "must be greater than min_age_days")
            )
        if index:
            end = stages[index - 1].max_age_days
            if stage.min_age_days < end:
                reason = f"overlaps the previous stage, which ends at {end}"
            elif stage.min_age_days > end:
                reason = f"leaves a gap after the previous stage, which ends at {end}"
            else:
                continue
            violations.append(Violation(f"{where}.min_age_days", reason))
    return violations


DEFAULT_RULE = LifeStageRule(
    stages=(
        # The whole accepted window, so that every valid due date reads as expecting.
        Stage("expecting", -MAX_DUE_AHEAD_DAYS, 0),
        Stage("newborn", 0, 183),  # 0-6 months (six months is 182.6 days on average)
        Stage("infant", 183, 365),  # 6-12 months
        Stage("toddler", 365, 1096),  # 1-3 years (three years span one leap day)
        Stage("preschool", 1096, 2192),  # 3-6 years
    )
)


class Basis(enum.StrEnum):
    """Which date the stage was derived from."""

    DUE_DATE = "due_date"
    BIRTH_DATE = "birth_date"
    ESTIMATED_FROM_DUE_DATE = "estimated_from_due_date"


@dataclass(frozen=True, slots=True)
class LifeStage:
    """The stage of a profile as of a day, with the child's age and the date it rests on."""

    stage: str
    age_days: int | None = None
    basis: Basis | None = None
    reference_date: date | None = None


def _require_date(value: object, name: str) -> list[Violation]:
    # datetime is a subclass of date; a datetime here would hide a time-zone decision.
    if not isinstance(value, date) or isinstance(value, datetime):
        return [Violation(name, "must be a calendar date (not a datetime)")]
    return []


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _violations(
    due_date: date | None, birth_dates: Sequence[date], as_of: date, *, age_limit: bool
) -> list[Violation]:
    violations = _require_date(as_of, "as_of")
    if violations:
        return violations
    oldest = _years_before(as_of, MAX_CHILD_AGE_YEARS)
    if due_date is not None:
        violations += _require_date(due_date, "due_date")
        if not violations:
            ahead = (due_date - as_of).days
            if ahead > MAX_DUE_AHEAD_DAYS:
                violations.append(
                    Violation(
                        "due_date",
                        f"is {ahead} days after {as_of.isoformat()}; a due date more than 45 "
                        "weeks ahead cannot be a pregnancy",
                    )
                )
            elif age_limit and due_date < oldest:
                violations.append(
                    Violation("due_date", f"is more than {MAX_CHILD_AGE_YEARS} years ago")
                )
    for index, birth in enumerate(birth_dates):
        name = f"birth_dates[{index}]"
        problems = _require_date(birth, name)
        if not problems and birth > as_of:
            problems.append(Violation(name, f"is after {as_of.isoformat()}, in the future"))
        elif not problems and age_limit and birth < oldest:
            problems.append(Violation(name, f"is more than {MAX_CHILD_AGE_YEARS} years ago"))
        violations += problems
    return violations


def _raise_if(violations: list[Violation]) -> None:
    if violations:
        raise InvalidArgument(
            "; ".join(f"{v.field}: {v.description}" for v in violations), violations
        )


def validate_child_dates(
    *, due_date: date | None, birth_dates: Sequence[date], as_of: date
) -> None:
    """Refuses absurd dates when they arrive (``as_of`` = the day the trait was sent).

    A due date more than 45 weeks ahead, a birth date in the future, or a date more than 18
    years ago: every offending field is named. :func:`life_stage` repeats only the first two
    checks, because a birth date that was fine when it arrived becomes "older than 18 years" as
    time passes, and a stored trait must not start failing on its own.
    """
    _raise_if(_violations(due_date, birth_dates, as_of, age_limit=True))


def _matches_due_date(birth: date, due_date: date) -> bool:
    return (
        due_date - timedelta(days=BIRTH_BEFORE_DUE_DAYS)
        <= birth
        <= due_date + timedelta(days=BIRTH_AFTER_DUE_DAYS)
    )


def life_stage(
    *,
    due_date: date | None,
    birth_dates: Sequence[date],
    as_of: date,
    rule: LifeStageRule = DEFAULT_RULE,
) -> LifeStage:
    """The stage of the profile's youngest child (or pregnancy) on ``as_of``.

    The youngest child decides because its needs are the ones a mother-and-baby retailer can
    still serve, and it is the stage that moves soonest; older siblings are not lost, their
    dates stay on the profile as traits. A due date counts as a child only when no birth date
    falls near it (see ``BIRTH_BEFORE_DUE_DAYS``): in the future it makes the profile
    expecting, and once passed it is the estimated birth date if the rule allows. A child past
    the last stage leaves the profile at ``none``.

    Since the candidate dates do not depend on ``as_of``, a later ``as_of`` only makes the same
    child older: a profile's stage never moves back to an earlier one as time passes.
    """
    _raise_if(_violations(due_date, birth_dates, as_of, age_limit=False))
    candidates: list[tuple[date, Basis]] = [(b, Basis.BIRTH_DATE) for b in birth_dates]
    if due_date is not None and not any(_matches_due_date(b, due_date) for b in birth_dates):
        if due_date > as_of:
            candidates.append((due_date, Basis.DUE_DATE))
        elif rule.infer_birth_from_due_date:
            candidates.append((due_date, Basis.ESTIMATED_FROM_DUE_DATE))
    if not candidates:
        return LifeStage(NONE)
    reference, basis = max(candidates, key=lambda candidate: candidate[0])
    age_days = (as_of - reference).days
    return LifeStage(rule.stage_for_age(age_days), age_days, basis, reference)


DEFAULT_DUE_DATE_TRAIT = "due_date"
DEFAULT_BIRTH_DATE_TRAITS = ("child_birth_date", "children_birth_dates")
_TRAIT_NAME_MAX = 128


@dataclass(frozen=True, slots=True)
class LifeStageConfig:
    """A workspace's life-stage configuration: the rule, and which identify traits carry the
    due date and the children's birth dates (a birth-date trait may hold one ISO date or a list
    of them). Stored per workspace by the profile service; absent means the default."""

    rule: LifeStageRule = DEFAULT_RULE
    due_date_trait: str = DEFAULT_DUE_DATE_TRAIT
    birth_date_traits: tuple[str, ...] = DEFAULT_BIRTH_DATE_TRAITS

    def to_json(self) -> dict[str, object]:
        return {
            "stages": [
                {"name": s.name, "min_age_days": s.min_age_days, "max_age_days": s.max_age_days}
                for s in self.rule.stages
            ],
            "infer_birth_from_due_date": self.rule.infer_birth_from_due_date,
            "due_date_trait": self.due_date_trait,
            "birth_date_traits": list(self.birth_date_traits),
        }

    @classmethod
    def from_json(cls, doc: object) -> LifeStageConfig:
        """A configuration from JSON; omitted keys take the default. InvalidArgument names the
        offending field."""
        if not isinstance(doc, Mapping):
            raise InvalidArgument.field("rule", "must be a JSON object")
        unknown = sorted(
            set(doc)
            - {"stages", "infer_birth_from_due_date", "due_date_trait", "birth_date_traits"}
        )
        if unknown:
            raise InvalidArgument.field(
                "rule",
                f"unknown keys {unknown}; expected stages, infer_birth_from_due_date, "
                "due_date_trait, birth_date_traits",
            )
        infer = doc.get("infer_birth_from_due_date", True)
        if not isinstance(infer, bool):
            raise InvalidArgument.field("infer_birth_from_due_date", "must be true or false")
        stages = doc.get("stages")
        if stages is None:
            rule = LifeStageRule(DEFAULT_RULE.stages, infer_birth_from_due_date=infer)
        elif not isinstance(stages, list):
            raise InvalidArgument.field("stages", "must be a list of stages")
        else:
            for index, item in enumerate(stages):
                if not isinstance(item, Mapping):
                    raise InvalidArgument.field(f"stages[{index}]", "must be a JSON object")
            rule = LifeStageRule.from_config(stages, infer_birth_from_due_date=infer)
        due = doc.get("due_date_trait", DEFAULT_DUE_DATE_TRAIT)
        if not isinstance(due, str) or not 0 < len(due) <= _TRAIT_NAME_MAX:
            raise InvalidArgument.field(
                "due_date_trait", f"must be a trait name of 1-{_TRAIT_NAME_MAX} characters"
            )
        births = doc.get("birth_date_traits", list(DEFAULT_BIRTH_DATE_TRAITS))
        if not isinstance(births, list) or len(births) > 10:
            raise InvalidArgument.field("birth_date_traits", "must be a list of 0-10 trait names")
        for index, name in enumerate(births):
            if not isinstance(name, str) or not 0 < len(name) <= _TRAIT_NAME_MAX:
                raise InvalidArgument.field(
                    f"birth_date_traits[{index}]",
                    f"must be a trait name of 1-{_TRAIT_NAME_MAX} characters",
                )
        return cls(rule, due, tuple(dict.fromkeys(births)))


DEFAULT_CONFIG = LifeStageConfig()
