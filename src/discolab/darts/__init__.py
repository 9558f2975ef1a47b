"""RL-DARTS (PAPERS.md section 4): a differentiable cell search for an RL agent's image encoder.

``SupernetEncoder`` mixes every candidate op on every edge with softmax
weights of architecture logits kept in the ``"arch"`` collection; after joint
training with the RL loss, ``discretize`` keeps the top-2 edges per node and
``FixedCellEncoder`` is the resulting network, retrained from scratch and
compared with the hand-designed ``ImpalaSmall``.
"""

from discolab.darts.encoders import ImpalaSmall, param_count
from discolab.darts.fixed import FixedCellEncoder, fixed_variables_from_supernet
from discolab.darts.genotype import (
    Genotype,
    describe,
    discretize,
    draw,
    edge_index,
    num_edges,
    one_hot_alphas,
    random_genotype,
)
from discolab.darts.ops import OP_SETS, make_op
from discolab.darts.supernet import MixedOp, SearchCell, SupernetEncoder, arch_weights

__all__ = [
    "OP_SETS",
    "FixedCellEncoder",
    "Genotype",
    "ImpalaSmall",
    "MixedOp",
    "SearchCell",
    "SupernetEncoder",
    "arch_weights",
    "describe",
    "discretize",
    "draw",
    "edge_index",
    "fixed_variables_from_supernet",
    "make_op",
    "num_edges",
    "one_hot_alphas",
    "param_count",
    "random_genotype",
]
