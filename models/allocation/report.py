"""What the allocation report shows: fill rates by sector, type and region; the fair plan against the
2020 pro-rata rule; deliveries per week; the regions and weeks whose transport capacity binds."""

from stockpile.report.spec import Chart, Comparison, Join, ReportSpec

FILL_RATES = ("fill_rate", "min_fill_rate", "baseline_fill_rate", "fill_rate_cure", "fill_rate_care",
              "fill_rate_by_region", "fill_rate_by_type", "baseline_min_fill_rate", "baseline_fill_rate_cure",
              "baseline_fill_rate_care", "lp_min_fill_rate")

REPORT = ReportSpec(
    quantities=("need", "use", "shortage", "supply", "delivered", "stock", "baseline_stock", "units", "capacity",
                "initial_stock", "baseline_use", "packs", "delivery", "weighted_shortage", "units_needed",
                "units_used", "units_delivered", "baseline_weighted_shortage", "efficient_weighted_shortage",
                "price_of_fairness", "lp_weighted_shortage"),
    money=("cost", "transport_cost"),
    prices=("cost_per_unit",),
    rates=(*FILL_RATES, "utilisation"),
    joins=(Join("product", "products"), Join("institution", "institutions", ("sector", "type", "region"))),
    charts=(
        Chart("comparison", "Fill rates: the fair plan against the 2020 pro-rata rule", x="plan",
              y=("min_fill_rate", "fill_rate_cure", "fill_rate_care"), kind="bar", unit="fill rate", percent=True),
        Chart("comparison", "Weighted shortage: the fair plan against the 2020 pro-rata rule", x="plan",
              y=("weighted_shortage",), kind="bar", unit="priority-weighted units"),
        Chart("sectors", "Fill rate per sector and product (* = all products)", x="product", y=("fill_rate",),
              series="sector", kind="bar", unit="fill rate", percent=True),
        Chart("types", "Fill rate per institution type (all products)", x="type", y=("fill_rate",),
              where=(("product", "*"),), kind="barh", unit="fill rate", percent=True),
        Chart("regions", "Fill rate per region (all products)", x="region", y=("fill_rate", "min_fill_rate"),
              where=(("product", "*"),), kind="bar", unit="fill rate", percent=True),
        Chart("central", "Deliveries from the central stock per week", x="period", y=("delivered",),
              series="product", kind="stacked", unit="units"),
        Chart("central", "Central stock: fair plan and pro-rata rule", x="period", y=("stock", "baseline_stock"),
              facet="product", kind="line", unit="units"),
        Chart("transport", "Transport capacity used per region and week (100 % = binding)", x="period",
              y=("utilisation",), series="region", kind="line", unit="share of capacity", percent=True),
    ),
    comparisons=(
        Comparison("regions", ("region", "product"), ("fill_rate", "shortage")),
        Comparison("sectors", ("sector", "product"), ("fill_rate",)),
        Comparison("central", ("product", "period"), ("delivered",)),
        Comparison("fill", ("institution", "product"), ("fill_rate",)),
    ),
    order=("comparison", "sectors", "types", "regions", "transport", "central", "fill", "deliveries", "usage",
           "steps"),
    notes={
        "comparison": "The fair plan and the 2020 pro-rata rule side by side.",
        "transport": "Units delivered into each region per week against its capacity; utilisation 100 % binds.",
    },
)
