"""Layers with explicit forward and backward passes (numpy only)."""

from rctsim.train.layers.attention import AttentionMatmul, SelfAttention
from rctsim.train.layers.conv import Conv2d
from rctsim.train.layers.dense import Embedding, Linear, PositionalEmbedding
from rctsim.train.layers.elementwise import Flatten, GlobalAvgPool, MaxPool2d, ReLU
from rctsim.train.layers.loss import softmax_cross_entropy
from rctsim.train.layers.norm import BatchNorm, LayerNorm
from rctsim.train.layers.recurrent import LSTM
from rctsim.train.layers.residual import Residual

__all__ = [
    "LSTM", "AttentionMatmul", "BatchNorm", "Conv2d", "Embedding", "Flatten", "GlobalAvgPool",
    "LayerNorm", "Linear", "MaxPool2d", "PositionalEmbedding", "ReLU", "Residual",
    "SelfAttention", "softmax_cross_entropy",
]
