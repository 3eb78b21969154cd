"""What the ironstock report shows: reserve per product, shortage per crisis, marginal values."""

from stockpile.report.spec import Chart, Comparison, Join, ReportSpec

REPORT = ReportSpec(
    quantities=("reserve", "existing_stock", "bought", "writeoff_units", "demand", "resupply", "resupply_capacity",
                "use", "shortage", "stock", "capacity", "max_capacity", "expected_shortage_units",
                "reserved_capacity"),
    money=("purchase_cost", "holding_cost", "writeoff_cost", "fee", "cost", "expected_cost", "reserve_value",
           "budget_used", "budget"),
    prices=("fee_rate", "shortage_penalty", "marginal_value", "budget_marginal_value", "storage_marginal_value"),
    rates=("fill_rate", "probability"),
    joins=(Join("product", "products"), Join("scenario", "scenarios", ("name",)),
           Join("reservation", "reservations", ("name",))),
    charts=(
        Chart("reserve", "Reserve per product against the stock already held", x="product",
              y=("existing_stock", "reserve"), kind="bar", unit="units"),
        Chart("shortage", "Shortage per crisis scenario, by product", x="scenario", y=("shortage",),
              series="product", kind="bar", unit="units"),
        Chart("shortage", "Fill rate per crisis scenario, by product", x="scenario", y=("fill_rate",),
              series="product", kind="bar", unit="share of demand met", percent=True),
        Chart("binding", "Marginal value of the limits (EUR per year per unit of the limit)", x="constraint",
              y=("marginal_value",), kind="barh", unit="EUR/year"),
        Chart("reservations", "Warm production capacity reserved", x="reservation", y=("capacity", "max_capacity"),
              kind="barh", unit="units/period"),
        Chart("playout", "Stock during each crisis", x="period", y=("stock",), series="scenario", facet="product",
              kind="line", unit="units"),
    ),
    comparisons=(
        Comparison("reserve", ("product",), ("reserve", "bought", "cover_periods")),
        Comparison("shortage", ("scenario", "product"), ("shortage", "fill_rate")),
        Comparison("reservations", ("reservation",), ("capacity",)),
    ),
    order=("reserve", "shortage", "binding", "reservations", "playout"),
    notes={
        "reserve": "The reserve chosen per product, what it costs to buy and hold, and what expires unused.",
        "binding": "Each limit: how much of it is used, whether it binds, and what one more unit of it is worth.",
    },
)
