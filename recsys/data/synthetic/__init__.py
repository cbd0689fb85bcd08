"""Synthetic Guangzhou labour market with known ground truth.

``generate(cfg) -> Path`` writes a dataset from a composed Hydra config; ``generate_preset`` composes one
from a preset name; ``GroundTruth`` reads back the expected utility the simulation used.
"""

from recsys.data.synthetic.generate import available_presets, compose_config, generate, generate_preset
from recsys.data.synthetic.truth import GroundTruth

__all__ = ["GroundTruth", "available_presets", "compose_config", "generate", "generate_preset"]
