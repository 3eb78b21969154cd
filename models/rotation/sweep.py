"""rotation's decisions as sweep.csv columns: the units bought per product over the horizon."""

from __future__ import annotations


def sweep_columns(result) -> dict[str, float]:
    """`bought.<product>`: units purchased over the horizon (0 for a product never bought;
    every product with a stock row is listed)."""
    purchases = result.tables["purchases"]
    bought = purchases.groupby("product")["quantity"].sum() if len(purchases) else {}
    products = sorted(set(result.tables["stock"]["product"])) if "product" in result.tables["stock"] else []
    return {f"bought.{p}": float(bought.get(p, 0.0)) for p in products}
