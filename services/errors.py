"""Expected errors, each with the exit code the command line uses.

Anything that is not a :class:`FokusError` is a bug and is reported as one.
Messages are Swedish and name the field; they never contain personnummer.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_NOT_FOUND = 2
EXIT_DATABASE = 3
EXIT_SCHEMA = 4


class FokusError(Exception):
    """An expected error with a one-line Swedish message."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FieldError:
    """One rejected field: ``field`` is the Swedish field name shown to users."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(FokusError):
    """Input broke one or more rules; nothing was saved."""

    exit_code = EXIT_INVALID

    def __init__(self, errors: list[FieldError] | FieldError) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls(FieldError(field, message))


class ConflictError(FokusError):
    """Somebody else saved first: the row is at ``current_version``, you edited ``expected``."""

    exit_code = EXIT_INVALID

    def __init__(self, what: str, expected_version: int, current_version: int) -> None:
        self.what = what
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(
            f"{what} har ändrats av någon annan (din version {expected_version}, "
            f"sparad version {current_version}); inget sparades"
        )


class NotFoundError(FokusError):
    exit_code = EXIT_NOT_FOUND


class PermissionDeniedError(FokusError):
    exit_code = EXIT_INVALID


class DatabaseUnavailableError(FokusError):
    """Server down, wrong credentials, locked or corrupt file."""

    exit_code = EXIT_DATABASE


class ConnectionLostError(DatabaseUnavailableError):
    """The connection to the database server broke (network, server restart, a killed
    backend) or could not be made. The transaction was rolled back by the server:
    nothing of it was saved, and the same action can be tried again later."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "anslutningen till databasservern bröts; inget sparades – försök igen när "
            "anslutningen är tillbaka"
        )


class SchemaMismatchError(FokusError):
    """The database schema is older or newer than this version of Fokus."""

    exit_code = EXIT_SCHEMA


class RowErrors(FokusError):
    """An input file was rejected; ``lines`` holds one ``rad N: fält: orsak`` per problem."""

    exit_code = EXIT_INVALID

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))
