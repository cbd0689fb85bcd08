"""Fitted feature transformers: seeker and job tables -> sparse matrices on a fixed column layout."""

from recsys.features.blocks import FeatureError
from recsys.features.tables import (
           JobFeatures,
           SeekerFeatures,
           TableFeatures,
           job_monthly_wage,
           seeker_profiles,
)

__all__ = ["FeatureError", "JobFeatures", "SeekerFeatures", "TableFeatures", "job_monthly_wage",
           "seeker_profiles"]
