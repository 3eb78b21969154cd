"""Why a rotation instance has no feasible plan, in the planner's words.

Each test is a necessary condition for feasibility, checked on the data alone; every
failing one is reported (the earliest period per product and cause). When none fails the
engine falls back to its generic text.
"""

from __future__ import annotations

from stockpile.instance import Instance

from .data import RotationData


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.2f}"


def _upto(window: range, t: int) -> int:
    """Periods of the window that lie at or before t."""
    return max(0, min(window.stop, t + 1) - window.start)


def diagnose(inst: Instance) -> str | None:
    d = RotationData(inst)
    T = d.T
    word = "week" if inst.period_days in (None, 7, 7.0) else "period"
    reasons: list[str] = []

    # 1. the floor: lots on hand still usable then, plus purchases that can arrive in time
    for p, prod in d.products.items():
        first_arrival = prod.lead_time  # an order placed in period 0
        for t in range(T):
            target = d.target(p, t)
            if target <= 0:
                continue
            usable = d.existing_usable(p, t)
            # a purchase counts at the end of t if it arrives in a <= t with a + shelf_life - (t+1) >= min
            can_buy = first_arrival <= t and prod.shelf_life - 1 >= prod.min_remaining_life
            if usable >= target - 1e-9 or can_buy:
                continue
            head = (f"the target of {p} in {word} {t} is {_n(target)} but the lots on hand that are still usable "
                    f"then (at least {prod.min_remaining_life} {word}s of life left) hold {_n(usable)}")
            if prod.shelf_life - 1 < prod.min_remaining_life:
                tail = (f"and a purchase never counts: shelf_life {prod.shelf_life} leaves at most "
                        f"{prod.shelf_life - 1} {word}s of life at the end of its arrival {word}, less than "
                        f"min_remaining_life {prod.min_remaining_life}")
            elif first_arrival >= T:
                tail = f"and a purchase (lead_time {prod.lead_time}) cannot arrive within the {T}-{word} horizon"
            else:
                tail = f"and the first purchase can arrive in {word} {first_arrival} (lead_time {prod.lead_time})"
            reasons.append(f"{head}, {tail}")
            break  # the earliest period says it; later ones follow from it

    # 2. storage: the targets' volume, and stock that cannot leave before it expires
    cap = d.settings.storage_capacity
    if cap is not None:
        for t in range(T):
            targets = stuck_total = need = 0.0
            for p, prod in d.products.items():
                if prod.unit_volume <= 0:
                    continue
                alive = [lot for lot in d.existing_of[p] if t in lot.alive(T)]
                # stock of a lot that it could not have shipped by the end of t even with every outlet to itself
                stuck = sum(max(0.0, lot.quantity - sum(
                    d.outlets[k].capacity * _upto(lot.issuable(T, d.outlets[k].min_remaining_life), t)
                    for k in d.outlets_of[p])) for lot in alive)
                shared = sum(d.outlets[k].capacity * (t + 1) for k in d.outlets_of[p])
                stuck = max(stuck, sum(lot.quantity for lot in alive) - shared)
                targets += prod.unit_volume * d.target(p, t)
                stuck_total += prod.unit_volume * stuck
                need += prod.unit_volume * max(d.target(p, t), stuck)
            if need <= cap + 1e-9:
                continue
            if targets > cap + 1e-9:
                why = f"the targets alone take {_n(targets)} m³"
            elif stuck_total > cap + 1e-9:
                why = (f"the lots on hand that the outlets cannot take by then, nor expire, take {_n(stuck_total)} m³")
            else:
                why = (f"per product the larger of its target and the lots on hand the outlets cannot take by then "
                       f"takes {_n(need)} m³ in all")
            reasons.append(f"storage_capacity is {_n(cap)} m³ but at the end of {word} {t} {why}")
            break
    return "; ".join(reasons) if reasons else None
