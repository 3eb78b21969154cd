"""Errors the engine reports to users: bad input (exit 2) and everything it can name."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One defect in an instance, located as precisely as the data allows."""

    message: str
    file: str | None = None
    table: str | None = None
    row: int | None = None  # records counted from 1
    field: str | None = None
    line: int | None = None  # CSV line of the record, when it came from a CSV

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.table:
            where.append(f"table '{self.table}'")
        if self.row is not None:
            where.append(f"row {self.row}" + (f" (line {self.line})" if self.line else ""))
        if self.field:
            where.append(f"field '{self.field}'")
        return (", ".join(where) + ": " if where else "") + self.message


class InputError(Exception):
    """The instance is invalid; carries every problem found (exit code 2)."""

    def __init__(self, problems: Iterable[Problem] | Problem | str):
        if isinstance(problems, (Problem, str)):
            problems = [problems]
        self.problems = [p if isinstance(p, Problem) else Problem(p) for p in problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class SolveFailure(Exception):
    """The solver could not produce an answer (exit code 3)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
