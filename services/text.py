"""Swedish text folding for search and sorting, stored in indexed columns.

SQLite's ``lower()`` and ``LIKE`` fold ASCII only, and neither SQLite's
binary order nor PostgreSQL's ``C.UTF-8`` puts Å Ä Ö after Z. Instead of a
Python-registered collation (which breaks every other connection to the
file), Fokus stores a folded search form and a sort key next to the name.
"""

from __future__ import annotations

import re
import unicodedata

_KEEP = {"å", "ä", "ö"}
# Letters Swedish alphabetises as others (Ü as Y, Æ as Ä, Ø as Ö).
_EQUIV = {"ü": "y", "æ": "ä", "ø": "ö", "ß": "ss"}
# Å Ä Ö after Z in byte order: the three characters following "z" in ASCII.
_SORT_TAIL = {"å": "{", "ä": "|", "ö": "}"}
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case-fold ``text`` for search: "Öberg" → "öberg", "Émile" → "emile"."""
    out: list[str] = []
    for ch in _SPACES.sub(" ", text.strip()).casefold():
        if ch in _KEEP:
            out.append(ch)
            continue
        if ch in _EQUIV:
            out.append(_EQUIV[ch])
            continue
        decomposed = unicodedata.normalize("NFKD", ch)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return "".join(out)


def search_fold(text: str) -> str:
    """Folding used for search columns: like :func:`fold` but Ü stays a U, as typed."""
    return fold(text.replace("ü", "u").replace("Ü", "U"))


def sort_key(*parts: str) -> str:
    """A binary-comparable key in Swedish order (… X Y Z Å Ä Ö)."""
    folded = " ".join(fold(p) for p in parts)
    return "".join(_SORT_TAIL.get(ch, ch) for ch in folded)


# The highest code point; appended to a prefix it bounds a binary range scan.
PREFIX_END = "\U0010ffff"
