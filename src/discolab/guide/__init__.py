"""Predictors of program quality that guide a search (PAPERS.md section 3).

A GraphGPS-style GNN embeds program graphs (:mod:`discolab.guide.model`
over :mod:`discolab.guide.features`); a pairwise binary discriminator ("is A
better than B?") or a per-program score regressor is trained on evaluated
programs (:mod:`discolab.guide.predictor`). The guided searcher
(``discolab.search.guided``) uses them to drop children predicted worse than
their parents before they are evaluated. This layer knows programs and
fitness only, nothing of domains, searchers or studies.
"""

from discolab.guide.features import Featurizer, GraphBatch, bucket
from discolab.guide.model import GraphEncoder, GPSLayer, PairDiscriminator, ScoreRegressor
from discolab.guide.predictor import Engine, Predictor, PredictorConfig, engine, fit, pair_accuracy, rank_targets

__all__ = [
    "Engine", "Featurizer", "GPSLayer", "GraphBatch", "GraphEncoder", "PairDiscriminator", "Predictor",
    "PredictorConfig", "ScoreRegressor", "bucket", "engine", "fit", "pair_accuracy", "rank_targets",
]
