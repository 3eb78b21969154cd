"""A first plan for HiGHS to start from: buy just in time, rotate nothing.

Period by period, each product buys the fewest whole lots that lift its usable stock to
the target, in the order whose lot arrives latest but still in time (first expiry first
out: the lots on hand are counted untouched until they stop counting). Nothing is issued
and nothing shipped, so the plan keeps every floor without touching an outlet; HiGHS
completes the issues to outlets without a shipment cost itself. It is a plan, not a good
one: its only job is that branch-and-bound starts with an incumbent.
"""

from __future__ import annotations

import math

from .data import RotationData


def first_plan(d: RotationData) -> dict[str, int] | None:
    """Lots bought per purchase candidate, or None where no in-time order covers a target."""
    bought: dict[str, int] = {}
    for p, prod in d.products.items():
        candidates = sorted((c for c in d.lots if c.bought and c.product == p), key=lambda c: c.start)
        windows = {c.id: c.usable(d.T, prod.min_remaining_life) for c in candidates}
        for t in range(d.T):
            short = d.target(p, t) - d.existing_usable(p, t) - sum(
                n * prod.lot_size for c, n in bought.items() if c in windows and t in windows[c])
            if short <= 1e-9:
                continue
            for c in reversed(candidates):  # the latest arrival that still counts at t
                if c.start > t or t not in windows[c.id]:
                    continue
                room = d.max_lots[c.id] - bought.get(c.id, 0)
                k = min(room, math.ceil(short / prod.lot_size - 1e-9))
                if k > 0:
                    bought[c.id] = bought.get(c.id, 0) + k
                    short -= k * prod.lot_size
                if short <= 1e-9:
                    break
            if short > 1e-9:
                return None
    return bought
