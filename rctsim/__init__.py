"""rctsim: what on-device training costs under RCT, QAT and fp32 on a given accelerator."""

__version__ = "0.1.0"
