"""What the rotation report shows: usable stock against target, remaining-life bands, purchases, write-offs."""

from stockpile.report.spec import Chart, Comparison, Join, ReportSpec

REPORT = ReportSpec(
    quantities=("target", "usable", "total", "unusable", "margin", "quantity", "initial", "issued", "written_off",
                "end_stock", "lot_size", "capacity", "units_bought", "units_rotated", "units_written_off",
                "units_written_off_at_start", "min_usable_margin", "life_*"),
    money=("cost", "order_cost", "revenue", "shipment_cost", "disposal_cost"),
    prices=("unit_cost", "price"),
    joins=(Join("product", "products"), Join("outlet", "outlets", ("name",))),
    charts=(
        Chart("stock", "Usable stock against the target", x="period", y=("usable", "target", "total"),
              facet="product", kind="line", unit="units"),
        Chart("stock", "Stock by remaining life (periods)", x="period", y=("life_*",), facet="product",
              kind="area", unit="units"),
        Chart("purchases", "Purchases arriving per period", x="period_arriving", y=("quantity",), series="product",
              kind="stacked", unit="units"),
        Chart("writeoffs", "Units written off", x="period", y=("quantity",), series="product", kind="stacked",
              unit="units"),
        Chart("shipments", "Units rotated into regular use per period", x="period", y=("quantity",),
              series="product", kind="area", unit="units"),
    ),
    comparisons=(
        Comparison("purchases", ("product", "period_ordered"), ("quantity", "cost")),
        Comparison("writeoffs", ("lot",), ("quantity",)),
    ),
    order=("stock", "purchases", "writeoffs", "schedule", "shipments", "lots"),
    notes={"stock": "Per product and period: target, usable and total stock, and the stock by remaining life."},
)
