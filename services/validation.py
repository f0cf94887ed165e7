"""Collecting field errors so one save reports every problem at once."""

from __future__ import annotations

from datetime import date

from services.errors import FieldError, ValidationError


class Checker:
    """Gathers :class:`FieldError` values; :meth:`done` raises them together."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def text(
        self, field: str, value: str | None, *, max_len: int, required: bool = False
    ) -> str | None:
        """Strip ``value``; flag it when missing (if required) or too long."""
        cleaned = value.strip() if value is not None else None
        if not cleaned:
            if required:
                self.fail(field, "måste fyllas i")
            return None
        if len(cleaned) > max_len:
            self.fail(field, f"får vara högst {max_len} tecken (är {len(cleaned)})")
        if "\x00" in cleaned:
            self.fail(field, "innehåller otillåtna tecken")
        return cleaned

    def amount_ore(self, field: str, value: int | None) -> int | None:
        if value is not None and value < 0:
            self.fail(field, "får inte vara negativt")
        return value

    def period(self, field_to: str, start: date | None, end: date | None) -> None:
        if start is not None and end is not None and end < start:
            self.fail(field_to, "kan inte ligga före startdatumet")

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def parse_iso_date(field: str, text: str) -> date:
    """``YYYY-MM-DD`` → date, or a :class:`ValidationError` naming ``field``."""
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError.single(
            field, f"ogiltigt datum {text.strip()!r}, ange ÅÅÅÅ-MM-DD"
        ) from exc


def age_on(birth: date, day: date) -> int:
    """Completed years on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
