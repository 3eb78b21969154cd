"""sourcing: a buying consortium splits volume across suppliers."""

from optimizer.instance import ModelSpec

from .check import check
from .schema import TABLES, SourcingSettings, validate


def solve(instance, options):
    from optimizer.pipeline import run

    from .diagnose import diagnose
    from .formulation import build, extract

    return run(instance, options, build, extract, diagnose)


MODEL = ModelSpec(
    kind="sourcing",
    title="Split volume across suppliers (tiers, caps, dual sourcing, disruptions)",
    tables=TABLES,
    settings=SourcingSettings,
    timed=False,
    validate=validate,
    solve=solve,
    check=check,
)
