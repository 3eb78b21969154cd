"""Independent check of a rotation solution from its output tables (no Pyomo).

Every rule is re-derived here from the contract (MODELS.md, "3. rotation") and the
instance data; nothing is taken from the formulation or its helper module. The lot
universe is the instance's lots plus one new lot per `purchases` row; every stock level is
recomputed as initial quantity minus cumulative issues from `schedule`.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd

from stockpile.checking import close, compare_objective, numeric, require_tables, tol
from stockpile.instance import Instance


def _whole(x: float) -> bool:
    return math.isfinite(x) and abs(x - round(x)) <= 1e-6


def check(inst: Instance, summary: dict, tables: dict[str, pd.DataFrame]) -> list[str]:
    out = require_tables(tables, {
        "schedule": ["period", "lot", "product", "outlet", "action", "quantity", "remaining_life", "price", "revenue"],
        "purchases": ["product", "period_ordered", "period_arriving", "lots", "lot_size", "quantity", "lot", "expiry",
                      "unit_cost", "cost", "order_cost"],
        "writeoffs": ["lot", "product", "period", "quantity", "expiry", "source", "disposal_cost", "cost"],
        "stock": ["product", "period", "target", "usable", "total", "unusable", "margin", "volume",
                  "average_remaining_life"],
        "lots": ["lot", "product", "source", "available_from", "expiry", "initial", "issued", "written_off",
                 "end_stock"],
        "shipments": ["outlet", "product", "period", "quantity", "capacity", "revenue", "shipment_cost"],
    })
    if out:
        return out
    T = int(inst.periods)
    # holding_cost is per year: 52 weekly periods a year, else 365 / period_days
    periods_per_year = 52.0 if inst.period_days is None or inst.period_days == 7 else 365.0 / float(inst.period_days)
    products = {p.id: p for p in inst["products"]}
    outlets = {(o.id, o.product): o for o in inst["outlets"]}
    overrides = {(r.product, r.period): r.target for r in inst["targets"]}

    def target(p: str, t: int) -> float:
        return overrides.get((p, t), products[p].target)

    # -- the lot universe: lots on hand plus one new lot per purchase row ------------------------
    lots: dict[str, dict] = {lot.id: {"product": lot.product, "start": 0, "expiry": lot.expiry,
                                      "initial": float(lot.quantity), "bought": False} for lot in inst["lots"]}
    purchases = numeric(tables["purchases"], "period_ordered", "period_arriving", "lots", "quantity", "expiry",
                        "cost", "order_cost", "lot_size", "unit_cost")
    orders: set[tuple[str, int]] = set()
    purchase_cost = order_cost = 0.0
    for i, r in enumerate(purchases.itertuples(), start=1):
        where = f"purchases row {i} (lot {r.lot})"
        if r.product not in products:
            out.append(f"{where}: unknown product '{r.product}'")
            continue
        prod = products[r.product]
        numbers = (r.period_ordered, r.period_arriving, r.lots, r.quantity, r.expiry)
        if not all(_whole(x) for x in numbers[:3]) or not all(math.isfinite(x) for x in numbers):
            out.append(f"{where}: period_ordered, period_arriving and lots must be whole numbers, quantity and "
                       f"expiry numbers")
            continue
        ordered, arriving, n = int(round(r.period_ordered)), int(round(r.period_arriving)), int(round(r.lots))
        if not 0 <= ordered < T:
            out.append(f"{where}: ordered in period {ordered}, outside 0..{T - 1}")
        if arriving != ordered + prod.lead_time:
            out.append(f"{where}: arrives in {arriving}, but ordered in {ordered} with lead_time {prod.lead_time} "
                       f"it arrives in {ordered + prod.lead_time}")
        if not 0 <= arriving < T:
            out.append(f"{where}: arrives in period {arriving}, outside the horizon 0..{T - 1}")
        if n < 1:
            out.append(f"{where}: {n} lots; a purchase row buys at least one lot")
        if not close(r.quantity, n * prod.lot_size, tol(r.quantity)):
            out.append(f"{where}: quantity {r.quantity:,.4f} is not {n} whole lots of {prod.lot_size:g}")
        if not close(r.expiry, arriving + prod.shelf_life, 1e-9):
            out.append(f"{where}: expiry {r.expiry:g}, but arriving in {arriving} with shelf_life "
                       f"{prod.shelf_life} it expires in {arriving + prod.shelf_life}")
        if (r.product, ordered) in orders:
            out.append(f"{where}: a second order of {r.product} in period {ordered}")
        orders.add((r.product, ordered))
        if r.lot in lots:
            out.append(f"{where}: lot id '{r.lot}' is already used by another lot")
            continue
        quantity = n * prod.lot_size
        cost = prod.unit_cost * quantity
        if not close(r.cost, cost, tol(cost)):
            out.append(f"{where}: cost {r.cost:,.4f}, but {quantity:,.4f} units at {prod.unit_cost:g} make {cost:,.4f}")
        for col, truth in (("lot_size", prod.lot_size), ("unit_cost", prod.unit_cost), ("order_cost", prod.order_cost)):
            if not close(getattr(r, col), truth, tol(truth)):
                out.append(f"{where}: {col} {getattr(r, col):g}, the product's is {truth:g}")
        purchase_cost += cost
        order_cost += prod.order_cost
        lots[r.lot] = {"product": r.product, "start": arriving, "expiry": arriving + prod.shelf_life,
                       "initial": quantity, "bought": True}

    # -- issues: windows, outlet capacity ----------------------------------------------------
    schedule = numeric(tables["schedule"], "period", "quantity", "remaining_life", "price", "revenue")
    if "action" in schedule:
        issue_rows = schedule[schedule["action"] == "issue"]
        scheduled_writeoffs = schedule[schedule["action"] == "write_off"]
        other = set(schedule["action"]) - {"issue", "write_off"}
        if other:
            out.append(f"schedule has unknown action(s) {', '.join(sorted(other))}")
    else:
        issue_rows, scheduled_writeoffs = schedule, schedule.iloc[0:0]
    issued: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    shipped: dict[tuple[str, str, int], float] = defaultdict(float)
    revenue = 0.0
    for r in issue_rows.itertuples():
        where = f"issue of {r.quantity:g} from lot {r.lot} to {r.outlet} in period {r.period:g}"
        if not _whole(r.period) or not 0 <= r.period < T:
            out.append(f"{where}: period is not a whole number within 0..{T - 1}")
            continue
        t = int(round(r.period))
        lot = lots.get(r.lot)
        if lot is None:
            out.append(f"{where}: no such lot (neither on hand nor bought)")
            continue
        if r.product != lot["product"]:
            out.append(f"{where}: the lot holds {lot['product']}, the row says {r.product}")
        key = (r.outlet, lot["product"])
        if key not in outlets:
            out.append(f"{where}: outlet {r.outlet} does not take {lot['product']}")
            continue
        if not math.isfinite(r.quantity) or r.quantity < -tol(0):
            out.append(f"{where}: quantity must be a number >= 0")
            continue
        if t < lot["start"]:
            out.append(f"{where}: the lot is only on hand from period {lot['start']}")
        if t >= lot["expiry"]:
            out.append(f"{where}: at or after the lot's expiry {lot['expiry']}")
        elif lot["expiry"] - t < outlets[key].min_remaining_life:
            out.append(f"{where}: {lot['expiry'] - t} periods of life left, the outlet accepts "
                       f"{outlets[key].min_remaining_life} or more")
        issued[r.lot][t] += r.quantity
        shipped[(r.outlet, lot["product"], t)] += r.quantity
        revenue += outlets[key].price * r.quantity
        price = outlets[key].price
        for col, truth in (("remaining_life", lot["expiry"] - t), ("price", price), ("revenue", price * r.quantity)):
            if not close(getattr(r, col), truth, tol(truth)):
                out.append(f"{where}: {col} {getattr(r, col):g}, recomputed {truth:g}")
    for (o, p, t), q in shipped.items():
        cap = outlets[(o, p)].capacity
        if q > cap + tol(cap):
            out.append(f"outlet {o} takes {q:,.4f} of {p} in period {t}, above its capacity {cap:,.4f}")

    # -- stock levels, write-offs, floor, storage --------------------------------------------
    stock_pt: dict[tuple[str, int], float] = defaultdict(float)
    usable_pt: dict[tuple[str, int], float] = defaultdict(float)
    volume_t: dict[int, float] = defaultdict(float)
    volume_pt: dict[tuple[str, int], float] = defaultdict(float)
    life_pt: dict[tuple[str, int], float] = defaultdict(float)
    band_pt: dict[tuple[str, int, int], float] = defaultdict(float)
    bands = sorted(_bands(tables["stock"].columns).values())
    expected_writeoff: dict[str, tuple[int, float]] = {}
    end_stock: dict[str, float] = {}
    holding = 0.0
    for l, lot in lots.items():
        prod = products[lot["product"]]
        level = lot["initial"]
        last = min(lot["expiry"], T)
        for t in range(lot["start"], last):
            level -= issued[l].get(t, 0.0) if l in issued else 0.0
            if level < -tol(lot["initial"]):
                out.append(f"lot {l}: stock {level:,.4f} < 0 at the end of period {t}")
            stock_pt[(lot["product"], t)] += level
            left = lot["expiry"] - (t + 1)
            if left >= prod.min_remaining_life:
                usable_pt[(lot["product"], t)] += level
            volume_t[t] += prod.unit_volume * level
            volume_pt[(lot["product"], t)] += prod.unit_volume * level
            life_pt[(lot["product"], t)] += level * left
            for lo, hi in bands:
                if lo <= left <= hi:
                    band_pt[(lot["product"], t, lo)] += level
            holding += prod.holding_cost / periods_per_year * level
        if lot["expiry"] <= lot["start"]:
            expected_writeoff[l] = (lot["start"], lot["initial"])
            end_stock[l] = 0.0
        elif lot["expiry"] < T:
            expected_writeoff[l] = (lot["expiry"], level)
            end_stock[l] = 0.0
        else:
            end_stock[l] = level
    for p in products:
        for t in range(T):
            need = target(p, t)
            have = usable_pt.get((p, t), 0.0)
            if need > 0 and have < need - tol(need):
                out.append(f"{p}: usable stock {have:,.4f} at the end of period {t} is below the target {need:,.4f}")
    cap = inst.settings.storage_capacity
    if cap is not None:
        for t, v in sorted(volume_t.items()):
            if v > cap + tol(cap):
                out.append(f"storage: {v:,.4f} m³ at the end of period {t}, above storage_capacity {cap:,.4f}")

    writeoffs = numeric(tables["writeoffs"], "period", "quantity", "cost", "disposal_cost", "expiry")
    reported: dict[str, tuple[float, float]] = {}
    for r in writeoffs.itertuples():
        if r.lot in reported:
            out.append(f"writeoffs: lot {r.lot} listed twice")
        if r.lot not in lots:
            out.append(f"writeoffs: no such lot {r.lot}")
            continue
        reported[r.lot] = (r.period, r.quantity)
        lot = lots[r.lot]
        unit = products[lot["product"]].disposal_cost
        for col, truth in (("cost", unit * r.quantity), ("disposal_cost", unit), ("expiry", lot["expiry"])):
            if not close(getattr(r, col), truth, tol(truth)):
                out.append(f"writeoffs: lot {r.lot} {col} {getattr(r, col):,.4f}, recomputed {truth:,.4f}")
        if r.product != lot["product"] or r.source != ("purchase" if lot["bought"] else "existing"):
            out.append(f"writeoffs: lot {r.lot} is a lot of {lot['product']} from "
                       f"{'a purchase' if lot['bought'] else 'the lots on hand'}, the row says {r.product}, {r.source}")
    disposal = 0.0
    for l, (t, q) in expected_writeoff.items():
        disposal += products[lots[l]["product"]].disposal_cost * max(0.0, q)
        got_t, got_q = reported.get(l, (t, 0.0))
        if not close(got_q, q, tol(q, lots[l]["initial"])):
            out.append(f"lot {l}: {q:,.4f} left at its expiry must be written off in period {t}, writeoffs says "
                       f"{got_q:,.4f}")
        elif got_q > tol(0) and got_t != t:
            out.append(f"lot {l}: written off in period {got_t:g}, its expiry makes it period {t}")
    for l in set(reported) - set(expected_writeoff):
        if reported[l][1] > tol(0):
            out.append(f"lot {l}: written off but it is still usable at the end of the horizon")
    if len(scheduled_writeoffs):
        sched = numeric(scheduled_writeoffs, "quantity").groupby("lot")["quantity"].sum()
        for l, q in sched.items():
            if not close(q, reported.get(l, (0, 0.0))[1], tol(q)):
                out.append(f"schedule write-off of lot {l} ({q:,.4f}) differs from the writeoffs table")

    out.extend(_check_stock(tables["stock"], products, target, T, stock_pt, usable_pt, volume_pt, life_pt, band_pt))
    out.extend(_check_lots(tables["lots"], lots, issued, expected_writeoff, end_stock))
    out.extend(_check_shipments(tables["shipments"], outlets, shipped))

    # -- objective terms -----------------------------------------------------------------------
    shipment = sum(outlets[(o, p)].shipment_cost for (o, p, t), q in shipped.items() if q > 0)
    recomputed = {"purchase": purchase_cost, "order": order_cost, "holding": holding, "disposal": disposal,
                  "shipment": shipment, "revenue": -revenue}
    out.extend(compare_objective(summary, recomputed))

    # -- every KPI of the summary, recomputed --------------------------------------------------
    total_units = sum(stock_pt.values())
    life_units = sum(life_pt.values())
    margins = [usable_pt.get((p, t), 0.0) - target(p, t) for p in products for t in range(T) if target(p, t) > 0]
    kpis = {
        "units_bought": sum(lot["initial"] for lot in lots.values() if lot["bought"]),
        "orders": len(purchases),
        "units_rotated": sum(shipped.values()),
        "units_written_off": sum(max(0.0, q) for _, q in expected_writeoff.values()),
        "units_written_off_at_start": sum(max(0.0, q) for l, (_, q) in expected_writeoff.items()
                                          if not lots[l]["bought"] and lots[l]["expiry"] <= 0),
        "revenue": revenue,
        "shipments": sum(1 for q in shipped.values() if q > 0),
        "average_remaining_life": life_units / total_units if total_units > 0 else None,
        "min_usable_margin": min(margins) if margins else None,
        "peak_storage_volume": max(volume_t.values(), default=0.0),
    }
    out.extend(_compare_kpis(summary.get("kpis") or {}, kpis))
    return out


def _compare_kpis(reported: dict, kpis: dict) -> list[str]:
    out = [f"summary kpis lack '{k}'" for k in kpis if k not in reported]
    out += [f"summary kpi '{k}' is not a figure of this model" for k in reported if k not in kpis]
    for k, truth in kpis.items():
        if k not in reported:
            continue
        got = reported[k]
        if truth is None or got is None:
            if (truth is None) != (got is None):
                out.append(f"summary kpi {k}: {got}, recomputed {truth}")
        elif not isinstance(got, (int, float)) or not close(float(got), truth, tol(truth)):
            out.append(f"summary kpi {k}: {got}, recomputed {truth:,.6f}")
    return out


def _bands(columns) -> dict[str, tuple[int, float]]:
    """The remaining-life band columns of the stock table (life_LO_HI, life_LO_plus), by their names."""
    out = {}
    for col in columns:
        parts = col.split("_")
        if len(parts) == 3 and parts[0] == "life" and parts[1].isdigit() and (parts[2].isdigit() or parts[2] == "plus"):
            out[col] = (int(parts[1]), math.inf if parts[2] == "plus" else int(parts[2]))
    return out


def _check_stock(table: pd.DataFrame, products: dict, target, T: int, stock_pt, usable_pt, volume_pt,
                 life_pt, band_pt) -> list[str]:
    """One row per product and period, each column the recomputed figure."""
    out = []
    bands = _bands(table.columns)
    st = numeric(table, "period", "target", "usable", "total", "unusable", "margin", "volume",
                 "average_remaining_life", *bands)
    seen = set()
    for r in st.itertuples(index=False):
        row = r._asdict()
        if r.product not in products or not _whole(r.period) or not 0 <= r.period < T:
            out.append(f"stock table: no product {r.product} or period {r.period} outside the horizon")
            continue
        key = (r.product, int(round(r.period)))
        if key in seen:
            out.append(f"stock table: {key[0]} in period {key[1]} listed twice")
        seen.add(key)
        total, usable = stock_pt.get(key, 0.0), usable_pt.get(key, 0.0)
        life = life_pt.get(key, 0.0)
        truth = {"target": target(*key), "usable": usable, "total": total, "unusable": total - usable,
                 "margin": usable - target(*key), "volume": volume_pt.get(key, 0.0),
                 "average_remaining_life": life / total if total > 0 else math.nan}
        for col, (lo, hi) in bands.items():
            truth[col] = band_pt.get((*key, lo), 0.0)
        for col, value in truth.items():
            got = row[col]
            if math.isnan(value) and math.isnan(got):
                continue
            if math.isnan(value) or math.isnan(got) or not close(got, value, tol(value)):
                out.append(f"stock table: {col} of {key[0]} in period {key[1]} is {got:,.4f}, recomputed {value:,.4f}")
    missing = [(p, t) for p in products for t in range(T) if (p, t) not in seen]
    if missing:
        out.append(f"stock table: no row for {len(missing)} product-period pair(s), e.g. {missing[0][0]} in period "
                   f"{missing[0][1]}")
    return out


def _check_lots(table: pd.DataFrame, lots: dict, issued, expected_writeoff: dict, end_stock: dict) -> list[str]:
    out = []
    lt = numeric(table, "available_from", "expiry", "initial", "issued", "written_off", "end_stock")
    seen = set()
    for r in lt.itertuples(index=False):
        lot = lots.get(r.lot)
        if lot is None:
            out.append(f"lots table: no such lot {r.lot}")
            continue
        seen.add(r.lot)
        truth = {"available_from": lot["start"], "expiry": lot["expiry"], "initial": lot["initial"],
                 "issued": sum(issued[r.lot].values()) if r.lot in issued else 0.0,
                 "written_off": max(0.0, expected_writeoff.get(r.lot, (0, 0.0))[1]), "end_stock": end_stock[r.lot]}
        for col, value in truth.items():
            if not close(getattr(r, col), value, tol(value, lot["initial"])):
                out.append(f"lots table: {col} of lot {r.lot} is {getattr(r, col):,.4f}, recomputed {value:,.4f}")
        if r.product != lot["product"] or r.source != ("purchase" if lot["bought"] else "existing"):
            out.append(f"lots table: lot {r.lot} is a lot of {lot['product']} "
                       f"({'purchase' if lot['bought'] else 'existing'}), the row says {r.product} ({r.source})")
    for l in sorted(set(lots) - seen):
        out.append(f"lots table: no row for lot {l}")
    return out


def _check_shipments(table: pd.DataFrame, outlets: dict, shipped: dict) -> list[str]:
    out = []
    sh = numeric(table, "period", "quantity", "capacity", "revenue", "shipment_cost")
    seen = set()
    for r in sh.itertuples(index=False):
        key = (r.outlet, r.product, int(round(r.period)) if _whole(r.period) else None)
        if (r.outlet, r.product) not in outlets or key[2] is None:
            out.append(f"shipments table: no outlet {r.outlet} taking {r.product}, or a period that is not whole")
            continue
        seen.add(key)
        o = outlets[(r.outlet, r.product)]
        q = shipped.get(key, 0.0)
        truth = {"quantity": q, "capacity": o.capacity, "revenue": q * o.price, "shipment_cost": o.shipment_cost}
        for col, value in truth.items():
            if not close(getattr(r, col), value, tol(value)):
                out.append(f"shipments table: {col} of {r.outlet}/{r.product} in period {key[2]} is "
                           f"{getattr(r, col):,.4f}, recomputed {value:,.4f}")
    for key in sorted(k for k, q in shipped.items() if q > 0 and k not in seen):
        out.append(f"shipments table: no row for {key[0]}/{key[1]} in period {key[2]}")
    return out
