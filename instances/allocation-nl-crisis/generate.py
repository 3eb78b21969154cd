"""Regenerate this instance's CSV tables and instance.yaml from a seed.

    python instances/allocation-nl-crisis/generate.py [--seed 2020]

The figures are illustrative; see README.md. The generator itself lives in
models/allocation/synthetic.py (it also makes the national-size instance of docs/allocation.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stockpile.models.allocation import synthetic

DESCRIPTION = """\
Dutch PPE crisis, 13 weeks: FFP2 masks, gloves and gowns shared across cure and care
300 illustrative institutions (hospitals, nursing homes, home care, GP practices, disability
care) in the 11 acute-care (ROAZ) regions; demand surges (cure peaks in week 4, care in week 6);
central supply arrives in five waves and covers 55-80% of need; region transport capacity,
anti-hoarding cap of 10 days of use per week (1.43) and care/cure parity 0.95.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    doc = synthetic.generate(synthetic.SHIPPED, seed=args.seed)
    path = synthetic.write(doc, Path(__file__).parent, "allocation-nl-crisis", DESCRIPTION)
    print(f"wrote {path} ({len(doc['institutions'])} institutions, {len(doc['needs'])} need rows)")


if __name__ == "__main__":
    main()
