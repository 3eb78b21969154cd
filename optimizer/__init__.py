"""stockpile: optimisation of medical stockpile and sourcing decisions (Pyomo + HiGHS).

    import stockpile as sp
    inst = sp.load("instances/sourcing-nl-ppe/instance.yaml")
    result = sp.solve(inst, time_limit=60)
    result.tables["awards"]          # pandas DataFrame
    sp.check(inst, "results/")       # [] when every rule holds
"""

from .api import check, load, read_results, solve
from .errors import InputError, SolveFailure
from .instance import Instance
from .results import Result
from .solver import SolveOptions, Status

__all__ = [
    "Instance",
    "InputError",
    "Result",
    "SolveFailure",
    "SolveOptions",
    "Status",
    "check",
    "load",
    "read_results",
    "solve",
]
