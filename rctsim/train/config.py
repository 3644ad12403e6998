"""`TrainConfig`: everything that determines a training run (and so its trace, byte for byte)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rctsim.errors import InputError
from rctsim.train.models import MODELS

Scalar = int | float | str | bool


class TrainConfig(BaseModel):
    """One training run. Fields left `None` take the model's recipe (`rctsim.train.models`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              allow_inf_nan=False)

    model: str
    """Model name (`mlp`, `cnn`, `resnet`, `lstm`, `transformer`)."""
    policy: str = "rct"
    """Training policy (`fp32`, `qat`, `rct`, `apt`)."""
    dataset: str | None = None
    """Data set (`mnist1d`, `strokes`, `text`); default: the model's."""
    policy_params: dict[str, Scalar] = Field(default_factory=dict)
    """Policy parameters (strings are converted and checked by the policy's model)."""
    dataset_params: dict[str, Scalar] = Field(default_factory=dict)
    """Data set generator parameters."""
    epochs: int | None = Field(None, ge=1)
    """Passes over the training set; default: the model's."""
    seed: int = Field(0, ge=0)
    """Seed of initialisation, shuffling and stochastic rounding."""
    batch_size: int | None = Field(None, ge=1)
    """Mini-batch size; default: the model's."""
    lr: float | None = Field(None, gt=0)
    """Peak learning rate (cosine decay to zero); default: the model's."""
    momentum: float = Field(0.9, ge=0, lt=1)
    """SGD momentum."""
    warmup: int | None = Field(None, ge=0)
    """Iterations of linear learning-rate warm-up; default: the model's."""
    max_iterations: int | None = Field(None, ge=1)
    """Stop after this many iterations (short runs for tests and benchmarks)."""

    def resolved(self) -> TrainConfig:
        """A copy with every default filled in from the model's recipe."""
        if self.model not in MODELS:
            raise InputError("--model", "model", f"unknown model {self.model!r}", ", ".join(MODELS))
        recipe = MODELS[self.model]
        return self.model_copy(update={
            "dataset": self.dataset or recipe.dataset,
            "epochs": self.epochs or recipe.epochs,
            "batch_size": self.batch_size or recipe.batch_size,
            "lr": self.lr or recipe.lr,
            "warmup": recipe.warmup if self.warmup is None else self.warmup,
        })

    def command(self) -> str:
        """The `rctsim train` command line that reproduces this run (without `--out`)."""
        c = self.resolved()
        parts = ["rctsim train", f"--model {c.model}", f"--dataset {c.dataset}",
                 f"--policy {c.policy}"]
        parts += [f"--policy-param {k}={v}" for k, v in sorted(c.policy_params.items())]
        parts += [f"--dataset-param {k}={v}" for k, v in sorted(c.dataset_params.items())]
        parts += [f"--epochs {c.epochs}", f"--seed {c.seed}", f"--batch-size {c.batch_size}",
                  f"--lr {c.lr}", f"--momentum {c.momentum}", f"--warmup {c.warmup}"]
        if c.max_iterations:
            parts.append(f"--max-iterations {c.max_iterations}")
        return " ".join(parts)
