"""Which constraint stops the optimiser, and by how much: a verdict per constraint.

When no searched policy meets every constraint, saying "relax one" is not enough: the
risk team needs to know which one binds and what is reachable. For each constraint the
verdict is the best figure any searched policy reaches on it while every *other*
constraint holds: met when that figure passes (the constraint is not the one in the
way), not met otherwise -- the binding constraint, with how far the best policy is from
its limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from decisions.book import Constraints
from decisions.errors import BacktestError


@dataclass(frozen=True)
class Verdict:
    constraint: str
    limit: float
    best: float | None  # best figure reachable with every other constraint met
    met: bool

    def describe(self) -> str:
        if self.best is None:
            return (f"{self.constraint} {self.limit:.4g}: NOT MET (no searched policy meets "
                    "the other constraints either)")
        word = "met" if self.met else "NOT MET"
        return (f"{self.constraint} {self.limit:.4g}: {word} (best {self.best:.4g} with the "
                "other constraints met)")

    def record(self) -> dict[str, Any]:
        return {"constraint": self.constraint, "limit": self.limit, "best": self.best,
                "met": self.met}


class Infeasible(BacktestError):
    """No searched policy meets every constraint; ``verdicts`` says which ones bind."""

    def __init__(self, message: str, verdicts: Sequence[Verdict]) -> None:
        super().__init__(message)
        self.verdicts = list(verdicts)


def verdicts(points: Any, air: Mapping[str, np.ndarray], c: Constraints) -> list[Verdict]:
    """``points``: every combination of the products' options (`optimise.combine` on the
    unscreened options); ``air``: per product, each point's worst adverse impact ratio."""
    tests: dict[str, tuple[np.ndarray, float, bool]] = {}  # name -> values, limit, upper
    for name, col, limit, upper in (("bad rate ≤", "bad_rate", c.max_bad_rate, True),
                                    ("approval rate ≥", "approval_rate", c.min_approval_rate,
                                     False),
                                    ("expected loss rate ≤", "expected_loss_rate",
                                     c.max_expected_loss_rate, True)):
        if limit is not None:
            tests[name] = (points[col].to_numpy(dtype=np.float64), float(limit), upper)
    for p, ratios in sorted(air.items()):
        tests[f"{p} adverse impact ratio ≥"] = (ratios, c.air_floor(p), False)
    passed = {n: (np.nan_to_num(v, nan=np.inf) <= lim + 1e-12) if up
              else (np.nan_to_num(v, nan=-np.inf) >= lim - 1e-12)
              for n, (v, lim, up) in tests.items()}
    out = []
    for name, (values, limit, upper) in tests.items():
        others = np.ones(len(values), dtype=bool)
        for n, ok in passed.items():
            if n != name:
                others &= ok
        cand = values[others & ~np.isnan(values)]
        if len(cand) == 0:
            out.append(Verdict(name, limit, None, False))
            continue
        best = float(cand.min() if upper else cand.max())
        out.append(Verdict(name, limit, best, bool(passed[name][others].any())))
    return out


def infeasible(points: Any, air: Mapping[str, np.ndarray], c: Constraints,
               extra: str = "") -> Infeasible:
    """The error naming every binding constraint with its best reachable figure."""
    vs = verdicts(points, air, c)
    binding = [v.describe() for v in vs if not v.met]
    return Infeasible("no searched policy meets every constraint on this history; "
                      f"binding: {'; '.join(binding) or 'their combination'}"
                      f"{'. ' + extra if extra else ''}", vs)
