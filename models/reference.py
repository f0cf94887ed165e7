"""Reference data a unit can extend: agencies, contact methods, support reasons.

Seeded by a migration. A row with ``unit_id`` NULL is common to every unit;
a unit adds its own rows with its id. Rows are deactivated, never deleted,
because old notes keep pointing at them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class _RefMixin:
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("unit.id"))


class Agency(_RefMixin, Base):
    """Who a contact or consent is with (Försäkringskassan, psykiatri, …)."""

    __tablename__ = "agency"


class ContactMethod(_RefMixin, Base):
    """How a contact happened (telefon, möte, hembesök, …)."""

    __tablename__ = "contact_method"


class SupportReasonKind(_RefMixin, Base):
    """A kind of försörjningshinder, rolled up into Socialstyrelsen's groups."""

    __tablename__ = "support_reason_kind"

    group_code: Mapped[str] = mapped_column(String(40))


# Socialstyrelsen's main groups of försörjningshinder.
REASON_GROUP_LABELS: dict[str, str] = {
    "unemployment": "arbetslöshet",
    "social": "sociala skäl",
    "sickness": "sjukdom och ohälsa",
    "other": "övriga",
}

AGENCIES: list[tuple[str, str]] = [
    ("client", "klienten själv"),
    ("healthcare", "hälso- och sjukvård"),
    ("psychiatry", "psykiatri"),
    ("fk", "Försäkringskassan"),
    ("af", "Arbetsförmedlingen"),
    ("jobcentre", "kommunens arbetsmarknadsenhet/jobbcenter"),
    ("social_services", "annan enhet inom socialtjänsten"),
    ("school", "skola/förskola"),
    ("landlord", "hyresvärd"),
    ("kronofogden", "Kronofogden"),
    ("akassa", "a-kassa"),
    ("csn", "CSN"),
    ("migrationsverket", "Migrationsverket"),
    ("pensionsmyndigheten", "Pensionsmyndigheten"),
    ("skatteverket", "Skatteverket"),
    ("debt_advice", "budget- och skuldrådgivning"),
    ("guardian", "god man/förvaltare"),
    ("coordination_union", "samordningsförbund"),
    ("other", "annan"),
]

CONTACT_METHODS: list[tuple[str, str]] = [
    ("phone", "telefon"),
    ("meeting", "möte"),
    ("home_visit", "hembesök"),
    ("letter", "brev"),
    ("email", "e-post"),
    ("sms", "SMS"),
    ("secure_message", "e-tjänst/säkert meddelande"),
    ("video", "digitalt möte"),
    ("internal", "intern anteckning"),
]

SUPPORT_REASONS: list[tuple[str, str, str]] = [
    ("unemployed_insufficient", "arbetslös med otillräcklig a-kassa", "unemployment"),
    ("unemployed_no_benefit", "arbetslös utan ersättning", "unemployment"),
    ("sick_with_benefit", "sjukskriven med sjukpenning", "sickness"),
    ("sick_without_benefit", "sjukskriven utan sjukpenning", "sickness"),
    ("ill_without_certificate", "sjuk eller ohälsa utan läkarintyg", "sickness"),
    ("social_obstacle", "arbetshinder av sociala skäl", "social"),
    ("insurance_exhausted", "utförsäkrad", "unemployment"),
    ("establishment_ended", "etableringstiden slut", "unemployment"),
    ("parental_leave", "föräldraledig", "other"),
    ("insufficient_income", "arbetar med otillräcklig inkomst", "other"),
    ("studying", "studerar", "social"),
    ("awaiting_benefit", "väntar på annan ersättning", "unemployment"),
    ("other", "annat", "other"),
]
