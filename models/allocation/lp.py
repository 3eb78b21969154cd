"""The allocation model written straight into a HiGHS matrix (see docs/allocation.md).

Each pair's objectives depend only on its total use, so the model needs no per-period use
or stock: per pair a fill rate f (total use / total need) and, per period in which a
delivery can help, the cumulative number of packs Y delivered so far. The pair can use at
most its stock plus what it has received by week t plus its need after t, for every t:

    N f ≤ stock + pack · Y(t) + Σ_{τ>t} need_τ

and the central stock limits Σ_pairs Y(t) ≤ supply up to t. This is far smaller than a
model with use and stock per period (no stock columns, one row per delivery), and whole
packs are simply Y integer.

Columns: Y (one per delivery key, pair by pair in period order), f (one per pair), z.
Rows, in blocks: increments (0 ≤ Y_j − Y_{j−1} ≤ packs allowed in that period), use
(the inequality above, the tightest t per Y), central supply (product, week), region
capacity (region, week), parity (product), floor (f − z ≥ 0 per pair).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .data import EPS, AllocationData

INF = math.inf

# why a pack bound or a fill-rate bound is what it is (the "limit" reported for a level)
SUPPLY, CAPACITY, CAP, PARITY, NEED, WINDOW, EARLIER = (
    "central_supply", "region_capacity", "delivery_cap", "parity", "need_met", "no_delivery_in_time",
    "earlier_levels")


@dataclass
class Block:
    start: int
    stop: int


class AllocationMatrix:
    """Index of columns and rows and the `highspy.HighsLp` of the allocation model."""

    def __init__(self, d: AllocationData):
        self.d = d
        T = d.T
        pairs = d.pairs
        P = len(pairs)
        self.pair_index = {k: n for n, k in enumerate(pairs)}
        self.N = np.array([d.total_need[k] for k in pairs], dtype=float)
        self.prio = np.array([d.institutions[i].priority for (i, _) in pairs], dtype=float)
        self.pack_of_pair = np.array([d.pack[p] for (_, p) in pairs], dtype=float)

        # -- delivery keys per pair, in period order, with their bound and its reason -------------
        keys: list[tuple[int, int]] = []  # (pair, period)
        ub: list[float] = []
        ub_why: list[tuple] = []
        first_key = np.zeros(P, dtype=np.int64)
        n_keys = np.zeros(P, dtype=np.int64)
        cap = d.settings.max_delivery_periods
        for n, key in enumerate(pairs):
            i, p = key
            pack = d.pack[p]
            row = d.need[key]
            first_key[n] = len(keys)
            start = d.first_supply(p)
            if start is None:
                continue
            remaining = sum(row[start:])
            for t in range(start, d.last_need(key) + 1):
                # in packs, fractional: the LP's packs are real numbers; Y integer rounds them down
                by_supply = d.cumulative_supply[p][t] / pack
                by_need = float(math.ceil(remaining / pack - EPS))
                by_cap = cap * row[t] / pack if cap is not None else None
                remaining -= row[t]
                b = min(by_supply, by_need, by_cap if by_cap is not None else by_supply)
                if b <= EPS:
                    continue
                why = (CAP, p, None, t) if by_cap is not None and b == by_cap else \
                    (NEED, p, None, None) if b == by_need else (SUPPLY, p, None, t)
                keys.append((n, t))
                ub.append(float(b))
                ub_why.append(why)
            n_keys[n] = len(keys) - first_key[n]
        self.keys = keys
        self.key_pair = np.array([k for k, _ in keys], dtype=np.int64)
        self.key_period = np.array([t for _, t in keys], dtype=np.int64)
        self.ub = np.array(ub, dtype=float)
        self.ub_why = ub_why
        self.first_key, self.n_keys = first_key, n_keys
        K = len(keys)
        self.K, self.P = K, P
        self.col_f = K  # f of pair n is column K + n
        self.col_z = K + P
        self.num_cols = K + P + 1

        # -- fill-rate bound from needs no delivery can reach, and the use rows ---------------------
        fmax = np.ones(P)
        fmax_why: list[tuple] = [(NEED, p, None, None) for (_, p) in pairs]
        use_pair, use_key, use_rhs = [], [], []
        for n, key in enumerate(pairs):
            row = d.need[key]
            N = self.N[n]
            s0 = d.stock0.get(key, 0.0)
            L = d.last_need(key)
            suffix = [0.0] * (T + 1)
            for t in range(T - 1, -1, -1):
                suffix[t] = suffix[t + 1] + row[t]
            periods = self.key_period[first_key[n]:first_key[n] + n_keys[n]]
            j_of = {}  # the tightest t for each key: the last relevant t before the next key
            j = -1
            for t in range(-1, L + 1):
                while j + 1 < len(periods) and periods[j + 1] <= t:
                    j += 1
                relevant = t == L or row[t + 1] > 0
                if not relevant:
                    continue
                rhs = (s0 + suffix[t + 1]) / N
                if j < 0:
                    if rhs < fmax[n]:
                        fmax[n] = rhs
                        fmax_why[n] = (WINDOW, key[1], None, t)
                else:
                    j_of[j] = rhs  # later t overwrite: the suffix only shrinks
            for j, rhs in j_of.items():
                use_pair.append(n)
                use_key.append(first_key[n] + j)
                use_rhs.append(rhs)
        self.fmax = np.maximum(fmax, 0.0)
        self.fmax_why = fmax_why

        # -- central supply rows: Σ_pairs Y(t) ≤ supply up to t, at the weeks before new supply --------
        central_rows: list[tuple[str, int]] = []
        central_cols: list[list[int]] = []
        by_product: dict[str, list[int]] = {}
        for n, (_, p) in enumerate(pairs):
            by_product.setdefault(p, []).append(n)
        # one searchsorted per pair: the last key at or before each of the product's row weeks
        weeks = {p: np.array([t for t in range(T) if t == T - 1 or d.supply[p][t + 1] > 0], dtype=np.int64)
                 for p in by_product}
        cols_of: dict[tuple[str, int], list[int]] = {}
        for n, (_, p) in enumerate(pairs):
            a, m = first_key[n], n_keys[n]
            if m == 0:
                continue
            w = weeks[p]
            j = np.searchsorted(self.key_period[a:a + m], w, side="right") - 1
            for t, jj in zip(w[j >= 0].tolist(), j[j >= 0].tolist()):
                cols_of.setdefault((p, t), []).append(int(a + jj))
        for p in by_product:
            for t in weeks[p].tolist():
                if (p, t) in cols_of:
                    central_rows.append((p, t))
                    central_cols.append(cols_of[(p, t)])

        # -- region capacity rows ------------------------------------------------------------------
        region_of_pair = [d.region_of(i) for (i, _) in pairs]
        into: dict[tuple[str, int], list[int]] = {}
        for c, (n, t) in enumerate(keys):
            r = region_of_pair[n]
            if d.capacity(r) is not None:
                into.setdefault((r, t), []).append(c)
        region_rows = sorted(into)

        # -- assemble (row-wise triplets) ------------------------------------------------------------
        rows_i, cols_j, vals = [], [], []
        lower, upper = [], []

        def block(fn) -> Block:
            start = len(lower)
            fn()
            return Block(start, len(lower))

        # increments: 0 ≤ Y_j − Y_{j−1} ≤ ub_j for j ≥ 1 (Y_0's bound is a column bound)
        inc_key = []

        def increments():
            for n in range(P):
                a, m = first_key[n], n_keys[n]
                for j in range(1, m):
                    r = len(lower)
                    rows_i.extend((r, r)); cols_j.extend((a + j, a + j - 1)); vals.extend((1.0, -1.0))
                    lower.append(0.0); upper.append(self.ub[a + j])
                    inc_key.append(a + j)

        self.increments = block(increments)
        self.inc_key = np.array(inc_key, dtype=np.int64)

        def uses():
            for n, c, rhs in zip(use_pair, use_key, use_rhs):
                r = len(lower)
                rows_i.extend((r, r)); cols_j.extend((K + n, c))
                vals.extend((1.0, -self.pack_of_pair[n] / self.N[n]))
                lower.append(-INF); upper.append(rhs)

        self.uses = block(uses)
        self.use_pair = np.array(use_pair, dtype=np.int64)

        def central():
            for (p, t), cols in zip(central_rows, central_cols):
                r = len(lower)
                rows_i.extend([r] * len(cols)); cols_j.extend(cols); vals.extend([1.0] * len(cols))
                lower.append(-INF); upper.append(d.cumulative_supply[p][t] / d.pack[p] + 1e-9)

        self.central = block(central)
        self.central_rows = central_rows

        def regions():
            for (r_, t) in region_rows:
                r = len(lower)
                for c in into[(r_, t)]:
                    n = self.key_pair[c]
                    pack = self.pack_of_pair[n]
                    rows_i.append(r); cols_j.append(c); vals.append(pack)
                    a = first_key[n]
                    if c > a:  # − Y_{j−1}: the increment delivered in t
                        rows_i.append(r); cols_j.append(c - 1); vals.append(-pack)
                lower.append(-INF); upper.append(d.capacity(r_))

        self.regions = block(regions)
        self.region_rows = region_rows

        kpar = d.settings.care_cure_parity
        self.parity_products = d.parity_products()

        def parity():
            for p in self.parity_products:
                r = len(lower)
                for n in by_product[p]:
                    sector = d.institutions[pairs[n][0]].sector
                    if sector == "care":
                        v = self.N[n] / d.sector_need[("care", p)]
                    else:
                        v = -kpar * self.N[n] / d.sector_need[("cure", p)]
                    rows_i.append(r); cols_j.append(K + n); vals.append(v)
                lower.append(0.0); upper.append(INF)

        self.parity = block(parity)

        def floors():
            for n in range(P):
                r = len(lower)
                rows_i.extend((r, r)); cols_j.extend((K + n, K + P)); vals.extend((1.0, -1.0))
                lower.append(0.0); upper.append(INF)

        self.floors = block(floors)
        self.num_rows = len(lower)
        self.row_lower = np.array(lower, dtype=float)
        self.row_upper = np.array(upper, dtype=float)
        self._triplets = (np.array(rows_i, dtype=np.int64), np.array(cols_j, dtype=np.int64),
                          np.array(vals, dtype=float))

        # column bounds: Y_j ∈ [0, Σ_{≤j} ub] (Y_0 ≤ ub_0 carries its own period's bound)
        col_lower = np.zeros(self.num_cols)
        col_upper = np.empty(self.num_cols)
        for n in range(P):
            a, m = first_key[n], n_keys[n]
            if m:
                col_upper[a:a + m] = np.cumsum(self.ub[a:a + m])
        col_upper[K:K + P] = self.fmax
        col_upper[K + P] = 1.0
        self.col_lower, self.col_upper = col_lower, col_upper

    # -- objectives (as cost vectors for minimisation) ------------------------------------------

    def cost_maxmin(self) -> np.ndarray:
        c = np.zeros(self.num_cols)
        c[self.col_z] = -1.0
        return c

    def shortage_weights(self) -> np.ndarray:
        """priority · need per pair: weighted shortage = Σ w − Σ w f."""
        return self.prio * self.N

    def cost_shortage(self) -> tuple[np.ndarray, float]:
        """Weighted shortage scaled by its largest possible value (so the solver's tolerances are relative)."""
        w = self.shortage_weights()
        scale = max(float(w.sum()), 1e-9)
        c = np.zeros(self.num_cols)
        c[self.col_f:self.col_f + self.P] = -w / scale
        return c, scale

    def cost_transport(self) -> tuple[np.ndarray, float]:
        """Transport cost: cost per unit × pack × the pair's last cumulative Y (deliveries telescope)."""
        d = self.d
        c = np.zeros(self.num_cols)
        for n, (i, p) in enumerate(d.pairs):
            m = self.n_keys[n]
            if m:
                c[self.first_key[n] + m - 1] = d.cost(i) * d.pack[p]
        scale = max(float(np.abs(c).max()) if len(c) else 0.0, 1e-9)
        return c / scale, scale

    def shortage_row(self) -> tuple[np.ndarray, np.ndarray]:
        """Columns and coefficients of Σ w f (the weighted use), for the bound that keeps step 2."""
        cols = np.arange(self.col_f, self.col_f + self.P)
        return cols, self.shortage_weights()

    def transport_row(self) -> tuple[np.ndarray, np.ndarray]:
        c, scale = self.cost_transport()
        cols = np.flatnonzero(c)
        return cols, c[cols] * scale

    def highs_lp(self):
        import highspy
        from scipy import sparse

        ri, cj, v = self._triplets
        A = sparse.csc_array((v, (ri, cj)), shape=(self.num_rows, self.num_cols))
        A.sum_duplicates()
        lp = highspy.HighsLp()
        lp.num_col_ = self.num_cols
        lp.num_row_ = self.num_rows
        lp.col_cost_ = np.zeros(self.num_cols)
        lp.col_lower_ = self.col_lower
        lp.col_upper_ = self.col_upper
        lp.row_lower_ = self.row_lower
        lp.row_upper_ = self.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        lp.a_matrix_.num_col_ = self.num_cols
        lp.a_matrix_.num_row_ = self.num_rows
        return lp

    # -- reading a plan ----------------------------------------------------------------------------

    def packs(self, values: np.ndarray) -> dict[tuple[str, str, int], float]:
        """Packs delivered per (institution, product, period) from the cumulative Y's."""
        d = self.d
        Y = values[:self.K]
        out = {}
        for n, (i, p) in enumerate(d.pairs):
            a, m = self.first_key[n], self.n_keys[n]
            prev = 0.0
            for j in range(m):
                y = Y[a + j]
                q = y - prev
                prev = y
                if q > 1e-9:
                    out[(i, p, int(self.key_period[a + j]))] = q
        return out

    def columns_of(self, x: dict, total: dict) -> np.ndarray:
        """Column values of a plan given as packs per (institution, product, period) and use per pair."""
        d = self.d
        v = np.zeros(self.num_cols)
        for n, key in enumerate(d.pairs):
            a, m = self.first_key[n], self.n_keys[n]
            acc = 0.0
            for j in range(m):
                acc += x.get((key[0], key[1], int(self.key_period[a + j])), 0)
                v[a + j] = acc
            v[self.col_f + n] = min(total.get(key, 0.0) / self.N[n], self.fmax[n])
        v[self.col_z] = float(v[self.col_f:self.col_f + self.P].min()) if self.P else 0.0
        return v

    def set_whole_packs(self, kept, on: bool) -> None:
        """Switch the Y columns of a kept model between whole packs and fractional packs.

        With whole packs their upper bounds are rounded down first: HiGHS rejects an integer
        column whose bound is fractional (it reported such a model infeasible).
        """
        Y = np.arange(self.K)
        upper = np.floor(self.col_upper[:self.K] + 1e-9) if on else self.col_upper[:self.K]
        kept.set_col_bounds(Y, np.zeros(self.K), upper)
        kept.set_integer(Y, on)
