"""MLflow models-from-code entry point: the logged pyfunc model is this file, not a pickle."""

import mlflow

from recsys.api.pyfunc import RankerModel

mlflow.models.set_model(RankerModel())
