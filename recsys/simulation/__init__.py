"""Closed-loop market simulation: recommendation policies inside the generated market, measured by placements.

``simulate(data_dir, policies, days=30, sim_seeds=(0, 1, 2), recommendation_share=0.5, k=10)`` returns a
:class:`SimulationResult` (tables, :meth:`~SimulationResult.compare`, report). See ``docs/simulation.md``.
"""

from recsys.simulation.market import (
    RecommendationChannel,
    SimulationInputError,
    Snapshot,
    load_snapshot,
    run_policy,
)
from recsys.simulation.policies import (
    MarketTruth,
    OrganicPolicy,
    Policy,
    PolicyError,
    RandomPolicy,
    RankerPolicy,
    RankRequest,
    RecommenderPolicy,
    SurplusOracle,
    UtilityOracle,
    as_policy,
    expected_surplus,
    hiring_probability,
    true_utility,
)
from recsys.simulation.simulate import SimulationResult, simulate

__all__ = ["MarketTruth", "OrganicPolicy", "Policy", "PolicyError", "RandomPolicy", "RankRequest", "RankerPolicy",
           "RecommendationChannel", "RecommenderPolicy", "SimulationInputError", "SimulationResult", "Snapshot",
           "SurplusOracle", "UtilityOracle", "as_policy", "expected_surplus", "hiring_probability", "load_snapshot",
           "run_policy", "simulate", "true_utility"]
