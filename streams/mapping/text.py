"""Procountor's character set for texts: the Windows-1252 repertoire only (procountor-api.md §3)."""

from __future__ import annotations


def non_cp1252(text: str) -> list[str]:
    """The characters of `text` that Procountor refuses, each once, in order."""
    bad: list[str] = []
    for char in text:
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            if char not in bad:
                bad.append(char)
    return bad
