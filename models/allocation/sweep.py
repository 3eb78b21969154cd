"""allocation's decisions as sweep.csv columns: the fill rate reached in every region."""

from __future__ import annotations


def sweep_columns(result) -> dict[str, float]:
    """`fill_rate.<region>`: units used over units needed in the region, all products."""
    regions = result.tables["regions"]
    overall = regions[regions["product"] == "*"]
    return {f"fill_rate.{r}": float(f) for r, f in zip(overall["region"], overall["fill_rate"])}
