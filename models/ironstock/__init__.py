"""ironstock: how large a strategic reserve per product, against crisis scenarios."""

from optimizer.instance import ModelSpec

from .check import check
from .schema import TABLES, IronstockSettings, validate


def solve(instance, options):
    from .formulation import solve as solve_ironstock

    return solve_ironstock(instance, options)


MODEL = ModelSpec(
    kind="ironstock",
    title="Size a strategic reserve against crisis scenarios (resupply, reservations, budget, expiry)",
    tables=TABLES,
    settings=IronstockSettings,
    timed=True,
    validate=validate,
    solve=solve,
    check=check,
)
