"""The RCT and APT papers' claims, and how the study's numbers are set beside them.

The papers' full text is not available here (docs/concepts.md §1); the claims are those of their
abstracts as docs/concepts.md quotes them. Each claim names the saving it is compared with and the
baseline(s) we report, and says what in our model drives the number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """One published claim and the study metric it is compared with."""

    key: str
    """Short identifier."""
    text: str
    """The claim as published (abstract wording, as docs/concepts.md quotes it)."""
    source: str
    """Paper."""
    metric: str
    """Saving compared (a key of the study's savings), or `mean_w_bits`, or `apt_tradeoff`."""
    baselines: tuple[str, ...]
    """Baselines our number is reported against."""
    kind: str
    """`more_than` (low), `range` (low..high) or `about` (low, within ABOUT_TOLERANCE)."""
    low: float
    """The published value, or the lower end of its range (fraction, or bits)."""
    high: float | None
    """Upper end of a published range (None otherwise)."""
    comparable: str
    """What makes our number comparable with the paper's, or not."""


RCT = "Huang et al., RCT, arXiv 2103.14493"
RCT_TNNLS = "Huang et al., RCT, IEEE TNNLS 2022"
APT = "Huang et al., APT, arXiv 2012.12775 (JPDC 2022)"

CLAIMS: tuple[Claim, ...] = (
    Claim("gemm", "more than 86% of GEMM energy saved", f"{RCT}; {RCT_TNNLS}", "gemm_energy",
          ("qat", "fp32"), "more_than", 0.86, None,
          "Yes, mostly: GEMM energy depends only on the MAC count (the same for every policy) and "
          "the operand bits priced by the energy table; the baseline of the paper's figure is "
          "not stated in the abstract, so both are shown."),
    Claim("param_mem_arxiv", "more than 46% of parameter memory saved against 8-bit QAT", RCT,
          "param_memory", ("qat",), "more_than", 0.46, None,
          "Yes: a ratio of stored bits per parameter, RCT's peak w bits against QAT's 32 + 8."),
    Claim("param_mem_tnnls", "63.5%-80% of parameter memory saved against 8-bit QAT", RCT_TNNLS,
          "param_memory", ("qat",), "range", 0.635, 0.80,
          "Yes: as above; the range maps to 8-14.6 stored bits per parameter."),
    Claim("param_move", "about half the parameter-movement energy of QAT", f"{RCT}; {RCT_TNNLS}",
          "param_movement_energy", ("qat",), "about", 0.5, None,
          "Partly: set by which copies stay on chip (SRAM size x policy), not by bits alone."),
    Claim("bits", "8-15 bit weight updates are enough on average", RCT_TNNLS, "mean_w_bits",
          ("-",), "range", 8.0, 15.0,
          "Yes in kind: our trainer's Gavg rule, on our small models and data sets."),
    Claim("apt_energy", "more than 50% of training energy saved", APT, "total_energy",
          ("fp32",), "more_than", 0.5, None,
          "In kind: the baseline is assumed to be fp32 training; total energy of our replay "
          "(MACs, SRAM, DRAM, leakage)."),
    Claim("apt_memory", "more than 50% of training memory saved", APT, "peak_memory",
          ("fp32",), "more_than", 0.5, None,
          "In kind: peak training memory (parameters, optimiser state, kept activations, "
          "gradients, workspace) against fp32."),
    Claim("apt_tradeoff", "20% more savings for 1% accuracy", APT, "apt_tradeoff", ("-",),
          "about", 0.2, None,
          "In kind: energy saved per accuracy point between APT runs at neighbouring "
          "trade-offs of our trainer (relative to the more accurate run)."),
)
"""The claims set beside the study's numbers (docs/concepts.md §1)."""


ABOUT_TOLERANCE = 0.1
"""An `about` claim is met within this absolute distance (10 percentage points)."""


def verdict(claim: Claim, lo: float, hi: float) -> str:
    """`meets`, `partly`, `above` or `below`: our range [lo, hi] against the claim."""
    if claim.kind == "about":
        lo_ok, hi_ok = claim.low - ABOUT_TOLERANCE, claim.low + ABOUT_TOLERANCE
    elif claim.kind == "range":
        lo_ok, hi_ok = claim.low, claim.high
    else:
        lo_ok, hi_ok = claim.low, float("inf")
    if lo >= lo_ok and hi <= hi_ok:
        return "meets"
    if hi < lo_ok:
        return "below"
    if lo > hi_ok:
        return "above"
    return "partly"


def published(claim: Claim) -> str:
    """The published value as text."""
    if claim.metric == "mean_w_bits":
        return f"{claim.low:g}-{claim.high:g} bits"
    if claim.kind == "range":
        return f"{100 * claim.low:g}-{100 * claim.high:g}%"
    if claim.kind == "about":
        return f"about {100 * claim.low:g}%"
    return f"> {100 * claim.low:g}%"
