"""Predictors of program quality that guide a search (PAPERS.md section 3).

A GraphGPS-style GNN embeds program graphs (:mod:`discolab.guide.model`
over :mod:`discolab.guide.features`); a pairwise binary discriminator ("is A
better than B?") or a per-program score regressor is trained on evaluated
programs (:mod:`discolab.guide.predictor`). A look-up with no training,
:mod:`discolab.guide.nearest`, predicts a program's score from the archive
programs that compute the most nearly the same function. The guided searcher
(``discolab.search.guided``) uses them to drop children predicted worse than
their parents before they are evaluated. This layer knows programs and
fitness only, nothing of domains, searchers or studies.
"""

from discolab.guide.features import Featurizer, GraphBatch, bucket
from discolab.guide.model import GraphEncoder, GPSLayer, PairDiscriminator, ScoreRegressor
from discolab.guide.nearest import NearestPredictor, fit_nearest
from discolab.guide.predictor import Engine, Predictor, PredictorConfig, engine, fit, pair_accuracy, rank_targets

#: What a screen asks: a fitted GNN or the nearest-function look-up (both ``compare(a, b) -> P(a > b)``).
AnyPredictor = Predictor | NearestPredictor

__all__ = [
    "AnyPredictor", "Engine", "Featurizer", "GPSLayer", "GraphBatch", "GraphEncoder", "NearestPredictor", "PairDiscriminator",
    "Predictor", "PredictorConfig", "ScoreRegressor", "bucket", "engine", "fit", "fit_nearest", "pair_accuracy", "rank_targets",
]
