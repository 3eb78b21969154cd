"""What the sourcing report shows: awards by supplier and region per product, scenario losses."""

from stockpile.report.spec import Chart, Comparison, Join, ReportSpec

REPORT = ReportSpec(
    quantities=("quantity", "demand", "bought", "unmet", "capacity", "surge_capacity", "tier_min_quantity",
                "undelivered", "surge", "lost", "units_bought", "units_unmet", "expected_units_lost"),
    money=("cost", "award_cost", "unmet_cost", "purchase_cost", "fixed_cost"),
    prices=("unit_price", "average_unit_price", "loss_value"),
    rates=("share", "lost_share", "utilisation", "probability", "region_shares"),
    joins=(Join("product", "products"), Join("supplier", "suppliers", ("region",))),
    charts=(
        Chart("awards", "Awarded quantity per product, by supplier", x="product", y=("quantity",),
              series="supplier", kind="stacked", unit="units"),
        Chart("regions", "Share of each product's demand per region", x="product", y=("share",),
              series="region", kind="stacked", unit="share of demand", percent=True),
        Chart("suppliers", "Supplier capacity used", x="supplier", y=("utilisation",), kind="barh",
              unit="share of capacity", percent=True),
        Chart("products", "Purchase cost per product", x="product", y=("purchase_cost",), kind="bar", unit="EUR"),
        Chart("scenarios", "Units lost per disruption scenario, by product", x="scenario",
              y=("lost",), series="product", kind="stacked", unit="units"),
        Chart("scenarios", "Planned units not delivered, made up by surge, and lost, per scenario", x="scenario",
              y=("undelivered", "surge", "lost"), kind="bar", unit="units"),
    ),
    comparisons=(
        Comparison("awards", ("supplier", "product"), ("quantity", "cost")),
        Comparison("products", ("product",), ("bought", "unmet", "average_unit_price")),
        Comparison("regions", ("product", "region"), ("quantity", "share")),
    ),
    order=("awards", "products", "suppliers", "regions", "scenarios", "surge"),
    notes={
        "awards": "One row per supplier and product awarded: the quantity, its price tier and cost.",
        "scenarios": "Per disruption scenario and product: planned units that do not arrive, surge that makes "
                     "up for them, and the units lost.",
    },
)
