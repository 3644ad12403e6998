"""Training policies (docs/concepts.md §3), each selectable by name with validated parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from rctsim.errors import InputError
from rctsim.train.module import TableLayer
from rctsim.train.params import parse_params
from rctsim.train.policies.base import Policy
from rctsim.train.policies.fp32 import Fp32Params, Fp32Policy
from rctsim.train.policies.qat import QatParams, QatPolicy
from rctsim.train.policies.rct import AptParams, AptPolicy, RctParams, RctPolicy


@dataclass(frozen=True)
class PolicyEntry:
    """A registered policy."""

    params: type[BaseModel]
    """Its parameter model (`--policy-param k=v`)."""
    cls: type[Policy]
    """The policy class, constructed as `cls(params, layers, rng)`."""


POLICIES: dict[str, PolicyEntry] = {
    "fp32": PolicyEntry(Fp32Params, Fp32Policy),
    "qat": PolicyEntry(QatParams, QatPolicy),
    "rct": PolicyEntry(RctParams, RctPolicy),
    "apt": PolicyEntry(AptParams, AptPolicy),
}
"""Policy name -> entry."""


def make_policy(name: str, raw_params: dict[str, object], layers: list[TableLayer],
                rng: np.random.Generator) -> Policy:
    """Validate the parameters of policy `name` and apply it to `layers`."""
    if name not in POLICIES:
        raise InputError("--policy", "policy", f"unknown policy {name!r}", ", ".join(POLICIES))
    entry = POLICIES[name]
    params = parse_params(entry.params, raw_params, "--policy-param", name)
    return entry.cls(params, layers, rng)  # type: ignore[call-arg]


__all__ = ["POLICIES", "Policy", "PolicyEntry", "make_policy"]
