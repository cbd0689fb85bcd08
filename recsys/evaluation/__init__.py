"""Splits, metrics, the ground-truth oracle, significance tests and full-catalogue evaluation."""

from recsys.evaluation.evaluate import EvaluationResult, compare, evaluate, oversubscribed_jobs
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
from recsys.evaluation.significance import (
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
    temporal_split,
)

__all__ = [
    "RANKING_METRICS", "EvaluationResult", "LatentOracle", "ObservableOracle", "Oracle", "Split", "SplitError",
    "average_precision", "bootstrap_ci", "catalogue_coverage", "cold_job_split", "cold_seeker_split", "compare",
    "congestion_share", "evaluate", "exposure_gini", "gini", "hit_matrix", "hit_rate", "holm",
    "leave_last_out_split", "metrics_from_hits", "ndcg", "oversubscribed_jobs", "paired_bootstrap_ci", "paired_effect_size",
    "paired_test", "precision", "ranking_metrics", "recall", "reciprocal_rank", "temporal_split",
]
