"""Small builders for test data that go through the real services."""

from __future__ import annotations

import uuid
from datetime import date

from models.codes import MemberRole
from services.cases import CaseInput, CaseRef, CaseService, MemberInput
from services.persons import PersonInput

KARIN = PersonInput(first_name="Karin", last_name="Nyström", personal_id="19780214-3524")
OSKAR = PersonInput(first_name="Oskar", last_name="Nyström", personal_id="20120630-2844")
BENGT = PersonInput(first_name="Bengt", last_name="Åkesson", personal_id="19650909-5714")
MARIE = PersonInput(first_name="Marie", last_name="Åkesson", personal_id="19681122-4028")
ALI = PersonInput(first_name="Ali", last_name="Yilmaz", personal_id="20010417-8132")
SAMORD = PersonInput(first_name="Goran", last_name="Öberg", personal_id="19920274-3218")


def make_case(
    service: CaseService,
    unit_id: uuid.UUID,
    *members: tuple[MemberRole, PersonInput],
    opened_on: date = date(2024, 5, 2),
    **kwargs: object,
) -> CaseRef:
    return service.create_case(
        CaseInput(
            unit_id=unit_id,
            opened_on=opened_on,
            members=[MemberInput(role=r, person=p) for r, p in members],
            **kwargs,  # type: ignore[arg-type]
        )
    )
