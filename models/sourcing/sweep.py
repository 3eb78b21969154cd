"""sourcing's decisions as sweep.csv columns: each supplier's share of the units bought."""

from __future__ import annotations


def sweep_columns(result) -> dict[str, float]:
    """`share.<supplier>`: the supplier's awarded units over all units bought (0 to 1; 0 for a
    supplier without an award, every supplier listed so that the columns are the same at
    every point)."""
    suppliers = result.tables["suppliers"]
    total = float(suppliers["quantity"].sum())
    return {f"share.{s}": (float(q) / total if total > 0 else 0.0)
            for s, q in zip(suppliers["supplier"], suppliers["quantity"])}
