"""Ranking for placements offline: the objectives of :mod:`recsys.api.objectives` as recommenders.

:class:`recsys.placement.offline.PlacementRecommender` wraps a factor model, a hiring model and the apply
calibration behind the one recommender base class, so :func:`recsys.evaluation.evaluate` measures each
objective like any model; ``python -m recsys.placement.offline`` prints the table of docs/placement.md.
"""
