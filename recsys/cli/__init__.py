"""Hydra command-line apps: ``recsys-generate``, ``recsys-train``, ``recsys-compare``, ``recsys-tune``."""
