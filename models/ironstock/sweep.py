"""ironstock's decisions as sweep.csv columns: the reserve of every product and the capacity
of every reservation."""

from __future__ import annotations


def sweep_columns(result) -> dict[str, float]:
    """`reserve.<product>` (units held) and `reservation.<id>` (capacity reserved, units)."""
    columns = {f"reserve.{p}": float(r) for p, r in zip(result.tables["reserve"]["product"],
                                                         result.tables["reserve"]["reserve"])}
    reservations = result.tables.get("reservations")
    if reservations is not None:
        columns.update({f"reservation.{k}": float(c) for k, c in zip(reservations["reservation"],
                                                                     reservations["capacity"])})
    return columns
