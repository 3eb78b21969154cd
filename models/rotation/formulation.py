"""The rotation MIP in Pyomo (see docs/rotation.md) and its result tables."""

from __future__ import annotations

import math
from collections import defaultdict, deque

import pandas as pd
import pyomo.environ as pyo

from stockpile.instance import Instance
from stockpile.pipeline import Extracted
from stockpile.solver import Solution

from .data import LIFE_BANDS, LotInfo, RotationData, life_band
from .solve import solve  # noqa: F401  (the engine finds a model's solve here)

# Issues below this many units are solver noise: they are dropped before the tables are
# written, and every table and objective term is computed from what is written.
ISSUE_EPS = 1e-6


class Index:
    """The sparse index sets of one instance, grouped once so that no rule filters a grid."""

    def __init__(self, d: RotationData):
        T = d.T
        self.lots = {lot.id: lot for lot in d.tracked}  # followed lot by lot
        self.stock = [(lot.id, t) for lot in d.tracked for t in lot.alive(T)]
        self.issue = []
        for lot in d.tracked:
            for key in d.outlets_of[lot.product]:
                out = d.outlets[key]
                if out.capacity > 0:
                    self.issue.extend((lot.id, key[0], t) for t in lot.issuable(T, out.min_remaining_life))
        # the pooled fresh stock per product: arrivals by period, periods from the first arrival
        self.arrivals: dict[str, dict[int, list[str]]] = {}  # product -> period -> pooled lots coming on hand
        for p, pool in d.pooled.items():
            for lot in pool:
                self.arrivals.setdefault(p, {}).setdefault(lot.start, []).append(lot.id)
        self.fresh = [(p, t) for p, arr in self.arrivals.items() for t in range(min(arr), T)]
        self.fresh_issue = [(p, key[0], t) for (p, t) in self.fresh for key in d.outlets_of[p]
                            if d.outlets[key].capacity > 0]
        self.issues_of_lot_period = defaultdict(list)  # (lot, t) -> issue keys
        self.issues_of_outlet_period = defaultdict(list)  # (outlet, product, t) -> issue keys
        self.fresh_of_outlet_period = {}  # (outlet, product, t) -> fresh issue key
        for key in self.issue:
            lot = self.lots[key[0]]
            self.issues_of_lot_period[(key[0], key[2])].append(key)
            self.issues_of_outlet_period[(key[1], lot.product, key[2])].append(key)
        for key in self.fresh_issue:
            self.fresh_of_outlet_period[(key[1], key[0], key[2])] = key
        self.fresh_issues_of = defaultdict(list)  # (product, t) -> fresh issue keys
        for key in self.fresh_issue:
            self.fresh_issues_of[(key[0], key[2])].append(key)
        self.outlet_periods = sorted(set(self.issues_of_outlet_period) | set(self.fresh_of_outlet_period))
        self.usable_of = defaultdict(list)  # (product, t) -> tracked lot ids counting toward the target
        for lot in d.tracked:
            for t in lot.usable(T, d.products[lot.product].min_remaining_life):
                self.usable_of[(lot.product, t)].append(lot.id)
        self.stock_of_period = defaultdict(list)  # t -> stock keys
        for key in self.stock:
            self.stock_of_period[key[1]].append(key)
        self.fresh_of_period = defaultdict(list)  # t -> fresh keys
        for key in self.fresh:
            self.fresh_of_period[key[1]].append(key)
        self.purchases = [lot.id for lot in d.lots if lot.bought]  # tracked and pooled
        self.floors = [(p, t) for p in d.products for t in range(T) if d.target(p, t) > 0]
        # purchase lots that can count toward the target at the end of t, per (product, t)
        self.buyable_of = defaultdict(list)
        for lot in d.lots:
            if lot.bought:
                for t in lot.usable(T, d.products[lot.product].min_remaining_life):
                    self.buyable_of[(lot.product, t)].append(lot.id)


def build(inst: Instance) -> pyo.ConcreteModel:
    d = RotationData(inst)
    ix = Index(d)
    m = pyo.ConcreteModel(name=inst.name)
    m.data, m.ix = d, ix
    T, lots = d.T, ix.lots
    every = {lot.id: lot for lot in d.lots}

    def prod(lot_id: str):
        return d.products[every[lot_id].product]

    # -- variables -------------------------------------------------------------------------
    m.n = pyo.Var(ix.purchases, domain=pyo.NonNegativeIntegers, bounds=lambda _, l: (0, d.max_lots[l]))
    m.stock = pyo.Var(ix.stock, domain=pyo.NonNegativeReals,
                      bounds=lambda _, l, t: (0, d.initial_upper(lots[l])))

    def issue_bounds(_, l, o, t):
        return 0, min(d.outlets[(o, lots[l].product)].capacity, d.initial_upper(lots[l]))

    m.issue = pyo.Var(ix.issue, domain=pyo.NonNegativeReals, bounds=issue_bounds)
    fresh_upper = {}
    for p, arr in ix.arrivals.items():
        total = 0.0
        for t in range(min(arr), T):
            total += sum(d.initial_upper(every[l]) for l in arr.get(t, ()))
            fresh_upper[(p, t)] = total
    m.fresh = pyo.Var(ix.fresh, domain=pyo.NonNegativeReals, bounds=lambda _, p, t: (0, fresh_upper[(p, t)]))
    m.fresh_issue = pyo.Var(ix.fresh_issue, domain=pyo.NonNegativeReals, bounds=lambda _, p, o, t: (
        0, min(d.outlets[(o, p)].capacity, fresh_upper[(p, t)])))
    ordered = [l for l in ix.purchases if prod(l).order_cost > 0]
    m.order = pyo.Var(ordered, domain=pyo.Binary)
    shipped = [k for k in ix.outlet_periods if d.outlets[k[:2]].shipment_cost > 0]
    m.ship = pyo.Var(shipped, domain=pyo.Binary)

    def initial(lot: LotInfo):
        return lot.quantity if lot.quantity is not None else d.products[lot.product].lot_size * m.n[lot.id]

    # -- lot balances: stock[t] = stock[t-1] (or the initial quantity) - issues[t] -------------
    def balance_rule(_, l, t):
        lot = lots[l]
        before = initial(lot) if t == lot.start else m.stock[l, t - 1]
        return m.stock[l, t] == before - sum(m.issue[k] for k in ix.issues_of_lot_period.get((l, t), ()))

    m.balance = pyo.Constraint(ix.stock, rule=balance_rule)

    def fresh_rule(_, p, t):
        arr = ix.arrivals[p]
        before = m.fresh[p, t - 1] if t > min(arr) else 0.0
        arriving = sum(initial(every[l]) for l in arr.get(t, ()))
        return m.fresh[p, t] == before + arriving - sum(m.fresh_issue[k] for k in ix.fresh_issues_of.get((p, t), ()))

    m.fresh_balance = pyo.Constraint(ix.fresh, rule=fresh_rule)

    # -- outlet capacity; a shipment indicator where shipping costs something ------------------
    def outflow(o, p, t):
        flow = [m.issue[k] for k in ix.issues_of_outlet_period.get((o, p, t), ())]
        if (o, p, t) in ix.fresh_of_outlet_period:
            flow.append(m.fresh_issue[ix.fresh_of_outlet_period[(o, p, t)]])
        return flow

    def capacity_rule(_, o, p, t):
        flow = outflow(o, p, t)
        cap = d.outlets[(o, p)].capacity
        if (o, p, t) in m.ship:
            return sum(flow) <= cap * m.ship[o, p, t]  # M = capacity: the tightest valid
        if len(flow) == 1:
            return pyo.Constraint.Skip  # the variable's bound already says it
        return sum(flow) <= cap

    m.outlet_capacity = pyo.Constraint(ix.outlet_periods, rule=capacity_rule)
    # Per-lot strengthening of the shipment big-M: an existing lot smaller than the outlet's
    # capacity can ship at most its quantity in a period with a shipment.
    small = [k for k in ix.issue if (k[1], lots[k[0]].product, k[2]) in m.ship
             and not lots[k[0]].bought and lots[k[0]].quantity < d.outlets[(k[1], lots[k[0]].product)].capacity]
    m.shipment_lot = pyo.Constraint(small, rule=lambda _, l, o, t: (
        m.issue[l, o, t] <= lots[l].quantity * m.ship[o, lots[l].product, t]))

    # -- orders: n > 0 only with an order placed ---------------------------------------------
    m.order_link = pyo.Constraint(ordered, rule=lambda _, l: m.n[l] <= d.max_lots[l] * m.order[l])
    # Valid cuts: where the lots on hand cannot cover a target, the purchases that can count
    # then must bring the rest in whole lots, and at least one of them must be ordered.
    cuts, order_cuts = {}, []
    for (p, t) in ix.floors:
        short = d.target(p, t) - d.existing_usable(p, t)
        if short > 1e-9 and ix.buyable_of.get((p, t)):
            cuts[(p, t)] = math.ceil(short / d.products[p].lot_size - 1e-9)
            if d.products[p].order_cost > 0:
                order_cuts.append((p, t))
    m.purchase_need = pyo.Constraint(list(cuts), rule=lambda _, p, t: (
        sum(m.n[l] for l in ix.buyable_of[(p, t)]) >= cuts[(p, t)]))
    m.order_need = pyo.Constraint(order_cuts, rule=lambda _, p, t: (
        sum(m.order[l] for l in ix.buyable_of[(p, t)]) >= 1))
    # Step cuts (lot-sizing (l,S) style): with D lots needed by t1 and D' > D by t2, either
    # the purchases that count at t1 bring D' or an order that only counts from later on is placed:
    #   sum_{c counts at t1} n_c + (D' - D) * sum_{c counts at t2, not at t1} order_c >= D'.
    steps = []
    for p in d.products:
        if d.products[p].order_cost <= 0:
            continue
        points, last = [], 0
        for t in range(T):
            if cuts.get((p, t), 0) != last:
                last = cuts.get((p, t), 0)
                if last > 0:
                    points.append(t)
        for i, t1 in enumerate(points):
            for t2 in points[i + 1:]:
                if cuts[(p, t2)] > cuts[(p, t1)]:
                    steps.append((p, t1, t2))

    def step_rule(_, p, t1, t2):
        early = set(ix.buyable_of[(p, t1)])
        late = [l for l in ix.buyable_of[(p, t2)] if l not in early]
        if not late:
            return sum(m.n[l] for l in early) >= cuts[(p, t2)]
        return (sum(m.n[l] for l in early) + (cuts[(p, t2)] - cuts[(p, t1)]) * sum(m.order[l] for l in late)
                >= cuts[(p, t2)])

    m.order_step = pyo.Constraint(steps, rule=step_rule)

    # -- usable-stock floor at the end of every period ----------------------------------------
    # A target that no lot can ever meet becomes an impossible row (a variable fixed at 0 that
    # must reach the target), so that HiGHS reports infeasibility and the diagnosis explains it.
    m.never = pyo.Var(bounds=(0, 0))

    def floor_rule(_, p, t):
        usable = [m.stock[l, t] for l in ix.usable_of.get((p, t), [])]
        if (p, t) in m.fresh:
            usable.append(m.fresh[p, t])
        if not usable:
            usable = [m.never]
        return sum(usable) >= d.target(p, t)

    m.floor = pyo.Constraint(ix.floors, rule=floor_rule)

    # -- storage on end-of-period stock --------------------------------------------------------
    cap = d.settings.storage_capacity

    def volume(t):
        terms = [prod(l).unit_volume * m.stock[l, t] for (l, _) in ix.stock_of_period.get(t, ())
                 if prod(l).unit_volume > 0]
        terms += [d.products[p].unit_volume * m.fresh[p, t] for (p, _) in ix.fresh_of_period.get(t, ())
                  if d.products[p].unit_volume > 0]
        return terms

    volume_periods = [t for t in range(T) if volume(t)] if cap is not None else []
    m.storage = pyo.Constraint(volume_periods, rule=lambda _, t: sum(volume(t)) <= cap)

    # -- objective terms -----------------------------------------------------------------------
    m.purchase = pyo.Expression(expr=sum(prod(l).unit_cost * prod(l).lot_size * m.n[l] for l in ix.purchases))
    m.order_cost = pyo.Expression(expr=sum(prod(l).order_cost * m.order[l] for l in ordered))
    m.holding = pyo.Expression(expr=sum(d.holding(every[l].product) * m.stock[l, t] for (l, t) in ix.stock
                                        if prod(l).holding_cost > 0)
                               + sum(d.holding(p) * m.fresh[p, t] for (p, t) in ix.fresh
                                     if d.products[p].holding_cost > 0))
    disposal = 0.0
    for lot in lots.values():  # pooled lots outlive the horizon
        period = lot.writeoff_period(T)
        cost = d.products[lot.product].disposal_cost
        if period is None or cost == 0:
            continue
        disposal = disposal + cost * (lot.quantity if period == lot.start else m.stock[lot.id, period - 1])
    m.disposal = pyo.Expression(expr=disposal)
    m.shipment = pyo.Expression(expr=sum(d.outlets[k[:2]].shipment_cost * m.ship[k] for k in shipped))
    m.revenue = pyo.Expression(expr=-sum(d.outlets[(o, lots[l].product)].price * m.issue[l, o, t]
                                         for (l, o, t) in ix.issue if d.outlets[(o, lots[l].product)].price > 0)
                               - sum(d.outlets[(o, p)].price * m.fresh_issue[p, o, t]
                                     for (p, o, t) in ix.fresh_issue if d.outlets[(o, p)].price > 0))
    m.objective = pyo.Objective(expr=m.purchase + m.order_cost + m.holding + m.disposal + m.shipment + m.revenue)
    return m


# -- results ----------------------------------------------------------------------------------


def evaluate(d: RotationData, issues: dict[tuple[str, str, int], float], bought: dict[str, int]) -> dict:
    """Every table and term of a plan given its issues (lot, outlet, t) and lots bought per candidate."""
    T = d.T
    lots = {lot.id: lot for lot in d.lots}
    initial = {}
    for l, lot in lots.items():
        if lot.bought:
            if bought.get(l, 0) > 0:
                initial[l] = bought[l] * d.products[lot.product].lot_size
        else:
            initial[l] = lot.quantity
    out_by_lot_period = defaultdict(float)
    for (l, o, t), q in issues.items():
        out_by_lot_period[(l, t)] += q

    stock: dict[tuple[str, int], float] = {}
    written: dict[str, tuple[int, float]] = {}
    end_stock: dict[str, float] = {}
    for l, q0 in initial.items():
        lot = lots[l]
        level = q0
        for t in lot.alive(T):
            level -= out_by_lot_period.get((l, t), 0.0)
            stock[(l, t)] = level
        period = lot.writeoff_period(T)
        if period is not None:
            written[l] = (period, q0 if period == lot.start else level)
            end_stock[l] = 0.0
        else:
            end_stock[l] = level
    return {"lots": lots, "initial": initial, "stock": stock, "written": written, "end_stock": end_stock}


def assign_fresh(m: pyo.ConcreteModel, bought: dict[str, int]) -> dict[tuple[str, str, int], float]:
    """Issues from the pooled fresh stock, assigned to its lots first-in first-out."""
    d: RotationData = m.data
    ix: Index = m.ix
    every = {lot.id: lot for lot in d.lots}
    out: dict[tuple[str, str, int], float] = {}
    for p, arr in ix.arrivals.items():
        queue: deque[list] = deque()
        for t in range(min(arr), d.T):
            for l in sorted(arr.get(t, ()), key=lambda l: (every[l].expiry, l)):
                q0 = every[l].quantity if not every[l].bought else bought.get(l, 0) * d.products[p].lot_size
                if q0 > 0:
                    queue.append([l, q0])
            for key in ix.fresh_issues_of.get((p, t), ()):
                q = float(pyo.value(m.fresh_issue[key]))
                while q > ISSUE_EPS and queue:
                    take = min(q, queue[0][1])
                    if take > ISSUE_EPS:
                        k = (queue[0][0], key[1], t)
                        out[k] = out.get(k, 0.0) + take
                    q -= take
                    queue[0][1] -= take
                    if queue[0][1] <= ISSUE_EPS:
                        queue.popleft()
    return out


def plan_of(m: pyo.ConcreteModel) -> tuple[dict[tuple[str, str, int], float], dict[str, int]]:
    """The plan in a solved model: issues (lot, outlet, period) -> units, and lots bought per candidate."""
    val = pyo.value
    issues = {}
    for key in m.issue:
        q = float(val(m.issue[key]))
        if q > ISSUE_EPS:
            issues[key] = q
    bought = {l: int(round(val(m.n[l]))) for l in m.n}
    issues.update(assign_fresh(m, bought))
    return issues, bought


def extract(inst: Instance, m: pyo.ConcreteModel, sol: Solution) -> Extracted:
    return tables_of(m.data, *plan_of(m))


def tables_of(d: RotationData, issues: dict[tuple[str, str, int], float], bought: dict[str, int]) -> Extracted:
    """Every result table, objective term and KPI of a plan, computed from the plan alone."""
    T = d.T
    ev = evaluate(d, issues, bought)
    lots, initial, stock, written = ev["lots"], ev["initial"], ev["stock"], ev["written"]

    # schedule: issues, then write-offs
    schedule = []
    for (l, o, t), q in issues.items():
        lot = lots[l]
        price = d.outlets[(o, lot.product)].price
        schedule.append({"period": t, "lot": l, "product": lot.product, "outlet": o, "action": "issue",
                         "quantity": q, "remaining_life": lot.expiry - t, "price": price, "revenue": q * price})
    writeoffs = []
    for l, (t, q) in written.items():
        if q <= ISSUE_EPS:
            continue
        lot = lots[l]
        cost = d.products[lot.product].disposal_cost
        writeoffs.append({"lot": l, "product": lot.product, "period": t, "quantity": q, "expiry": lot.expiry,
                          "source": "purchase" if lot.bought else "existing", "disposal_cost": cost,
                          "cost": q * cost})
        schedule.append({"period": t, "lot": l, "product": lot.product, "outlet": "", "action": "write_off",
                         "quantity": q, "remaining_life": lot.expiry - t, "price": 0.0, "revenue": 0.0})
    schedule = pd.DataFrame(schedule, columns=["period", "lot", "product", "outlet", "action", "quantity",
                                               "remaining_life", "price", "revenue"])
    # within a period, write-offs (at its start) come before the issues
    schedule = schedule.sort_values(["period", "product", "action", "lot", "outlet"], kind="stable",
                                    key=lambda c: c.map({"write_off": 0, "issue": 1}) if c.name == "action" else c)
    writeoffs = pd.DataFrame(writeoffs, columns=["lot", "product", "period", "quantity", "expiry", "source",
                                                 "disposal_cost", "cost"]).sort_values(["period", "product", "lot"])

    purchases = []
    for l, n in bought.items():
        if n <= 0:
            continue
        lot = lots[l]
        p = d.products[lot.product]
        purchases.append({"product": lot.product, "period_ordered": lot.ordered, "period_arriving": lot.start,
                          "lots": n, "lot_size": p.lot_size, "quantity": n * p.lot_size, "lot": l,
                          "expiry": lot.expiry, "unit_cost": p.unit_cost, "cost": round(n * p.lot_size * p.unit_cost, 6),
                          "order_cost": p.order_cost})
    purchases = pd.DataFrame(purchases, columns=["product", "period_ordered", "period_arriving", "lots", "lot_size",
                                                 "quantity", "lot", "expiry", "unit_cost", "cost", "order_cost"])
    purchases = purchases.sort_values(["period_ordered", "product"], kind="stable")

    # shipments per outlet, product and period
    shipped = defaultdict(float)
    for (l, o, t), q in issues.items():
        shipped[(o, lots[l].product, t)] += q
    shipments = pd.DataFrame(
        [{"outlet": o, "product": p, "period": t, "quantity": q, "capacity": d.outlets[(o, p)].capacity,
          "revenue": q * d.outlets[(o, p)].price, "shipment_cost": d.outlets[(o, p)].shipment_cost}
         for (o, p, t), q in sorted(shipped.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0]))],
        columns=["outlet", "product", "period", "quantity", "capacity", "revenue", "shipment_cost"])

    # stock-age profile per product and period
    profile = {(p, t): {"total": 0.0, "usable": 0.0, "volume": 0.0, "life_units": 0.0,
                        **{b[0]: 0.0 for b in LIFE_BANDS}} for p in d.products for t in range(T)}
    for (l, t), q in stock.items():
        lot = lots[l]
        prod = d.products[lot.product]
        row = profile[(lot.product, t)]
        remaining = lot.expiry - (t + 1)
        row["total"] += q
        if remaining >= prod.min_remaining_life:
            row["usable"] += q
        row["volume"] += q * prod.unit_volume
        row["life_units"] += q * remaining
        row[life_band(remaining)] += q
    stock_rows = []
    for (p, t), row in profile.items():
        target = d.target(p, t)
        life_units = row.pop("life_units")
        stock_rows.append({"product": p, "period": t, "target": target, "usable": row["usable"],
                           "total": row["total"], "unusable": row["total"] - row["usable"],
                           "margin": row["usable"] - target, "volume": row["volume"],
                           "average_remaining_life": life_units / row["total"] if row["total"] > 0 else None,
                           **{b[0]: row[b[0]] for b in LIFE_BANDS}})
    stock_table = pd.DataFrame(stock_rows)

    issued_of = defaultdict(float)
    for (l, o, t), q in issues.items():
        issued_of[l] += q
    lot_rows = []
    for l, q0 in initial.items():
        lot = lots[l]
        lot_rows.append({"lot": l, "product": lot.product, "source": "purchase" if lot.bought else "existing",
                         "available_from": lot.start, "expiry": lot.expiry, "initial": q0, "issued": issued_of[l],
                         "written_off": written.get(l, (None, 0.0))[1], "end_stock": ev["end_stock"][l]})
    lot_table = pd.DataFrame(lot_rows, columns=["lot", "product", "source", "available_from", "expiry", "initial",
                                                "issued", "written_off", "end_stock"])

    terms = {
        "purchase": float(purchases["cost"].sum()),
        "order": float(purchases["order_cost"].sum()),
        "holding": sum(d.holding(lots[l].product) * q for (l, t), q in stock.items()),
        "disposal": sum(d.products[lots[l].product].disposal_cost * q for l, (t, q) in written.items()),
        "shipment": float(sum(shipments["shipment_cost"])),
        "revenue": -float(sum(shipments["revenue"])),
    }
    total_units = sum(stock.values())
    life_units = sum(q * (lots[l].expiry - (t + 1)) for (l, t), q in stock.items())
    kpis = {
        "units_bought": float(purchases["quantity"].sum()),
        "orders": len(purchases),
        "units_rotated": float(sum(issues.values())),
        "units_written_off": float(sum(q for _, q in written.values())),
        "units_written_off_at_start": float(sum(q for l, (t, q) in written.items() if lots[l].expiry <= 0)),
        "revenue": float(sum(shipments["revenue"])),
        "shipments": len(shipments),
        "average_remaining_life": life_units / total_units if total_units > 0 else None,
        "min_usable_margin": float(stock_table.loc[stock_table["target"] > 0, "margin"].min())
        if (stock_table["target"] > 0).any() else None,
        "peak_storage_volume": float(stock_table.groupby("period")["volume"].sum().max()) if len(stock_table) else 0.0,
    }
    return Extracted(terms, kpis, {"schedule": schedule, "purchases": purchases, "writeoffs": writeoffs,
                                   "stock": stock_table, "lots": lot_table, "shipments": shipments})
