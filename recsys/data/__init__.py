"""Tables, schemas, the event funnel, validation and the :class:`Dataset` every model reads."""

from recsys.data.dataset import Dataset, IdMap, UnknownIdError
from recsys.data.events import EventFunnel, FunnelError
from recsys.data.validate import Problem, TableValidationError

__all__ = ["Dataset", "EventFunnel", "FunnelError", "IdMap", "Problem", "TableValidationError", "UnknownIdError"]
