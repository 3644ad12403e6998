"""The bundled numpy trainer: layers, quantisation, policies, models, data sets, trace capture.

`train(TrainConfig(model=..., policy=...))` runs a model under a policy and returns its `Trace`;
`docs/trainer.md` and `docs/policies.md` describe it.
"""

from rctsim.train.config import TrainConfig
from rctsim.train.loop import Progress, Session, evaluate, prepare, run, train, train_step

__all__ = ["Progress", "Session", "TrainConfig", "evaluate", "prepare", "run", "train",
           "train_step"]
