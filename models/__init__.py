"""Fokus domain model: SQLAlchemy tables, no Qt and no business rules beyond invariants."""

from models.access import CaseNamedStaff, CaseShare, EmergencyAccess, StandIn
from models.audit import AuditEvent
from models.base import Base, UTCDateTime, utcnow
from models.case import (
    CASE_PREFIX,
    Case,
    CaseNumberCounter,
    Consent,
    HouseholdMember,
    PersonOutcome,
    PlanGoal,
    SupportMonth,
    SupportReason,
)
from models.contact import ContactEntry, contact_entry_member
from models.follow_ups import CaseFollowUp
from models.member_births import MemberBirth
from models.offline import (
    OfflineCheckout,
    OfflineCheckoutCase,
    OfflineLocalBase,
    OfflineLocalChange,
    OfflineLocalConflict,
    OfflineLocalState,
)
from models.org import DEFAULT_CAP_FOCUS, DEFAULT_CAP_OTHER, Unit, User
from models.person import Person, PersonIdentifier
from models.plan import PersonDirection, Target, TargetGroup, TargetRule
from models.protected import CaseProtected
from models.reference import Agency, ContactMethod, SupportReasonKind
from models.search_terms import SearchTerm
from models.sort_keys import CaseSortKey
from models.stats import SupportYearCase, SupportYearPerson

__all__ = [
    "CASE_PREFIX",
    "DEFAULT_CAP_FOCUS",
    "DEFAULT_CAP_OTHER",
    "Agency",
    "AuditEvent",
    "Base",
    "Case",
    "CaseFollowUp",
    "CaseNamedStaff",
    "CaseNumberCounter",
    "CaseProtected",
    "CaseSortKey",
    "CaseShare",
    "Consent",
    "ContactEntry",
    "ContactMethod",
    "EmergencyAccess",
    "HouseholdMember",
    "MemberBirth",
    "OfflineCheckout",
    "OfflineCheckoutCase",
    "OfflineLocalBase",
    "OfflineLocalChange",
    "OfflineLocalConflict",
    "OfflineLocalState",
    "Person",
    "PersonDirection",
    "PersonIdentifier",
    "PersonOutcome",
    "PlanGoal",
    "SearchTerm",
    "StandIn",
    "SupportMonth",
    "SupportReason",
    "SupportReasonKind",
    "SupportYearCase",
    "SupportYearPerson",
    "Target",
    "TargetGroup",
    "TargetRule",
    "UTCDateTime",
    "Unit",
    "User",
    "contact_entry_member",
    "utcnow",
]
