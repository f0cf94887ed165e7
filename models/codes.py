"""Fixed code lists of the domain, with their Swedish labels.

Codes are stored in English-ish ASCII; labels are what users see. Lists a
unit may extend (agencies, contact methods, support reasons) are reference
tables instead, see :mod:`models.reference`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CASEWORKER = "caseworker"
    TEAM_LEADER = "team_leader"
    ADMIN = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.CASEWORKER: "handläggare",
    Role.TEAM_LEADER: "arbetsledare",
    Role.ADMIN: "administratör",
}


class CaseStatus(StrEnum):
    ACTUALISATION = "actualisation"
    INVESTIGATION = "investigation"
    ONGOING = "ongoing"
    CLOSED = "closed"


STATUS_LABELS: dict[CaseStatus, str] = {
    CaseStatus.ACTUALISATION: "aktualisering",
    CaseStatus.INVESTIGATION: "utredning",
    CaseStatus.ONGOING: "pågående",
    CaseStatus.CLOSED: "avslutad",
}


class MemberRole(StrEnum):
    APPLICANT = "applicant"
    CO_APPLICANT = "co_applicant"
    CHILD = "child"
    OTHER_ADULT = "other_adult"


MEMBER_ROLE_LABELS: dict[MemberRole, str] = {
    MemberRole.APPLICANT: "sökande",
    MemberRole.CO_APPLICANT: "medsökande",
    MemberRole.CHILD: "barn",
    MemberRole.OTHER_ADULT: "annan vuxen",
}


class Direction(StrEnum):
    WORK_STUDIES = "work_studies"
    SICKNESS_COMPENSATION = "sickness_compensation"
    UNDECIDED = "undecided"


DIRECTION_LABELS: dict[Direction, str] = {
    Direction.WORK_STUDIES: "arbete/studier",
    Direction.SICKNESS_COMPENSATION: "sjukersättning/aktivitetsersättning",
    Direction.UNDECIDED: "ej bestämd",
}


class Outcome(StrEnum):
    WORK = "work"
    STUDIES = "studies"
    SICKNESS_COMPENSATION = "sickness_compensation"
    ACTIVITY_COMPENSATION = "activity_compensation"
    OTHER_BENEFIT = "other_benefit"
    MOVED = "moved"
    DECEASED = "deceased"
    CONTACT_ENDED = "contact_ended"
    OTHER = "other"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.WORK: "arbete",
    Outcome.STUDIES: "studier",
    Outcome.SICKNESS_COMPENSATION: "sjukersättning",
    Outcome.ACTIVITY_COMPENSATION: "aktivitetsersättning",
    Outcome.OTHER_BENEFIT: "annan ersättning",
    Outcome.MOVED: "flyttat",
    Outcome.DECEASED: "avliden",
    Outcome.CONTACT_ENDED: "kontakt upphört",
    Outcome.OTHER: "annat",
}


class SicknessGrade(StrEnum):
    QUARTER = "1/4"
    HALF = "1/2"
    THREE_QUARTERS = "3/4"
    FULL = "1/1"


GRADE_LABELS: dict[SicknessGrade, str] = {
    SicknessGrade.QUARTER: "¼",
    SicknessGrade.HALF: "½",
    SicknessGrade.THREE_QUARTERS: "¾",
    SicknessGrade.FULL: "hel",
}


class OtherBenefit(StrEnum):
    UNEMPLOYMENT_INSURANCE = "unemployment_insurance"
    ESTABLISHMENT = "establishment"
    PENSION = "pension"
    PARENTAL = "parental"


OTHER_BENEFIT_LABELS: dict[OtherBenefit, str] = {
    OtherBenefit.UNEMPLOYMENT_INSURANCE: "a-kassa",
    OtherBenefit.ESTABLISHMENT: "etableringsersättning",
    OtherBenefit.PENSION: "pension",
    OtherBenefit.PARENTAL: "föräldrapenning",
}


class IdKind(StrEnum):
    PERSONNUMMER = "personnummer"
    SAMORDNINGSNUMMER = "samordningsnummer"


class Protection(StrEnum):
    CONFIDENTIALITY_MARKING = "confidentiality_marking"
    PROTECTED_REGISTRATION = "protected_registration"


PROTECTION_LABELS: dict[Protection, str] = {
    Protection.CONFIDENTIALITY_MARKING: "sekretessmarkering",
    Protection.PROTECTED_REGISTRATION: "skyddad folkbokföring",
}


class MonthSource(StrEnum):
    IMPORT = "import"
    MANUAL = "manual"


def check_in(column: str, values: type[StrEnum]) -> str:
    """SQL for a CHECK constraint limiting ``column`` to an enum's values."""
    quoted = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({quoted})"
