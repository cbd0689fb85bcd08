"""MLflow tracking: the store, one run per command, child runs per sweep job, logging helpers.

Importing this package does not import MLflow (slow); the helpers import it when called.
"""

from recsys.tracking.store import (
    TrackingConfigError,
    TrackingTarget,
    default_artifact_location,
    default_uri,
    disable_telemetry,
    missing_store,
    prepare_store,
    project_store_uri,
    reading_uri,
    resolve_target,
)

__all__ = ["TrackingConfigError", "TrackingTarget", "default_artifact_location", "default_uri", "disable_telemetry",
           "missing_store", "prepare_store", "project_store_uri", "reading_uri", "resolve_target"]
