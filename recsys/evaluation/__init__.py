"""Splits, metrics, the ground-truth references (utility oracle, exposure ceiling), significance tests and
full-catalogue evaluation: ``rank_split`` produces ranked lists, ``assess`` scores them."""

from recsys.evaluation.ceiling import ExposureCeiling
from recsys.evaluation.evaluate import (
    EvaluationResult,
    assess,
    compare,
    compare_slices,
    evaluate,
    oversubscribed_jobs,
    rank_split,
)
from recsys.evaluation.metrics import (
    RANKING_METRICS,
    average_precision,
    catalogue_coverage,
    congestion_share,
    exposure_gini,
    gini,
    hit_matrix,
    hit_rate,
    metrics_from_hits,
    ndcg,
    precision,
    ranking_metrics,
    recall,
    reciprocal_rank,
)
from recsys.evaluation.oracle import LatentOracle, ObservableOracle, Oracle
from recsys.evaluation.ranked import ListProducer, RankedLists, RankedListsError, rank_by_scores
from recsys.evaluation.significance import (
    benjamini_hochberg,
    bootstrap_ci,
    holm,
    paired_bootstrap_ci,
    paired_effect_size,
    paired_test,
)
from recsys.evaluation.splits import (
    Split,
    SplitError,
    cold_job_split,
    cold_seeker_split,
    leave_last_out_split,
    rolling_split,
    temporal_split,
)

__all__ = [
    "RANKING_METRICS", "EvaluationResult", "ExposureCeiling", "LatentOracle", "ListProducer", "ObservableOracle", "Oracle",
    "RankedLists", "RankedListsError", "Split", "SplitError", "assess", "average_precision", "benjamini_hochberg",
    "bootstrap_ci", "catalogue_coverage", "cold_job_split", "cold_seeker_split", "compare", "compare_slices",
    "congestion_share", "evaluate", "exposure_gini", "gini", "hit_matrix", "hit_rate", "holm",
    "leave_last_out_split", "metrics_from_hits", "ndcg", "oversubscribed_jobs", "paired_bootstrap_ci",
    "paired_effect_size", "paired_test", "precision", "rank_by_scores", "rank_split", "ranking_metrics", "recall",
    "reciprocal_rank", "rolling_split", "temporal_split",
]
