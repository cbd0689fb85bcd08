"""``python -m recsys.tracking``: print the MLflow store URI the commands use (``MLFLOW_TRACKING_URI`` if
set, else the project's SQLite store), e.g. ``export MLFLOW_TRACKING_URI=$(python -m recsys.tracking)``."""

from recsys.tracking.store import default_uri

if __name__ == "__main__":
    print(default_uri())
