"""Who is acting, and the audit events every write (and every case read) leaves.

Details are JSON and never carry names, personnummer or search text: the log
is itself reviewed by people who may not see every case.
"""

from __future__ import annotations

import getpass
import json
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from models import AuditEvent
from models.codes import Role


@dataclass(frozen=True)
class Actor:
    """The person (or command-line operator) on whose behalf a service acts."""

    username: str
    role: Role
    user_id: uuid.UUID | None = None
    workstation: str = ""

    @classmethod
    def cli(cls) -> Actor:
        """Command-line access: whoever holds the database URL acts as administrator."""
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):
            os_user = "okänd"
        return cls(username=f"cli:{os_user}", role=Role.ADMIN, workstation=socket.gethostname())


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    case_id: uuid.UUID | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add one audit event to the caller's transaction."""
    event = AuditEvent(
        event_uuid=uuid.uuid4(),
        actor=actor.username,
        user_id=actor.user_id,
        workstation=actor.workstation or socket.gethostname(),
        action=action,
        case_id=case_id,
        detail=json.dumps(detail, default=str, ensure_ascii=False, sort_keys=True),
    )
    session.add(event)
    return event
