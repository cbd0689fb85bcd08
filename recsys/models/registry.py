"""The explicit registry of recommender classes a saved model may name.

A ``model.json`` is data, never an instruction: its ``class`` is looked up here (nothing is imported
by name) and its ``params`` are checked against the class constructor's signature before the class is
called (:func:`checked_params`). Register a class of your own with :func:`register_model`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from recsys.models.base import ModelFormatError, Recommender
from recsys.models.content import Content
from recsys.models.ease import EASE
from recsys.models.knn import ItemKNN
from recsys.models.lightfm import LightFMCollaborative, LightFMHybrid
from recsys.models.nearest import Nearest, NewestNearby
from recsys.models.popularity import Popularity
from recsys.models.popularity_prior import PopularityPrior
from recsys.models.random import RandomRecommender

MODEL_CLASSES: dict[str, type[Recommender]] = {}
"""Registered name (``module.QualName``, as :meth:`Recommender.save` writes it) -> class."""

_JSON_KINDS = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "None": (type(None),),
               "Sequence": (list,), "list": (list,), "tuple": (list,), "Mapping": (dict,), "dict": (dict,)}
"""Annotation words -> JSON value types they admit (JSON arrays come back as lists)."""


def model_name(cls: type[Recommender]) -> str:
    """The registry name of ``cls``: ``module.QualName``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_model(cls: type[Recommender]) -> type[Recommender]:
    """Allow saved models to name ``cls`` (usable as a class decorator); returns ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, Recommender)):
        raise TypeError(f"only Recommender subclasses can be registered, got {cls!r}")
    signature = inspect.signature(cls.__init__)
    if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in signature.parameters.values()):
        raise TypeError(f"{cls.__name__}.__init__ takes *args/**kwargs: its params cannot be checked")
    MODEL_CLASSES[model_name(cls)] = cls
    return cls


for _cls in (Content, EASE, ItemKNN, LightFMCollaborative, LightFMHybrid, Nearest, NewestNearby, Popularity,
             PopularityPrior, RandomRecommender):
    register_model(_cls)


def model_class(name: Any, *, source: str = "model.json") -> type[Recommender]:
    """The registered class called ``name``; :class:`ModelFormatError` for anything else."""
    if not isinstance(name, str) or name not in MODEL_CLASSES:
        raise ModelFormatError(f"{source}: field 'class' = {name!r} is not a registered recommender class "
                               f"(known: {sorted(MODEL_CLASSES)})")
    return MODEL_CLASSES[name]


def checked_params(cls: type[Recommender], params: Any, *, source: str = "model.json") -> dict[str, Any]:
    """``params`` if they fit ``cls``'s constructor: known names only, JSON values of the annotated kinds.

    Raises :class:`ModelFormatError` naming the field. Nothing is called.
    """
    if not isinstance(params, Mapping):
        raise ModelFormatError(f"{source}: field 'params' must be an object, got {type(params).__name__}")
    parameters = {name: p for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}
    unknown = sorted(set(params) - set(parameters))
    if unknown:
        raise ModelFormatError(f"{source}: field 'params' has unknown parameter(s) {unknown} for {cls.__name__} "
                               f"(accepts {sorted(parameters)})")
    for name, value in params.items():
        _check_value(f"{source}: field 'params.{name}'", value, parameters[name].annotation)
    return dict(params)  # JSON arrays stay lists (tuples come back as lists, as tests/test_models.py expects)


def _check_value(where: str, value: Any, annotation: Any) -> None:
    if not _json_value(value):
        raise ModelFormatError(f"{where}: {value!r} is not a plain JSON value")
    if annotation is inspect.Parameter.empty:
        return
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    words = {w for w in text.replace("[", " ").replace("]", " ").replace("|", " ").replace(",", " ").split()}
    allowed = tuple(t for word in words for t in _JSON_KINDS.get(word.rpartition(".")[2], ()))
    if not allowed:
        return  # an annotation without JSON kinds (e.g. Any): the plain-JSON check above is all we can say
    if isinstance(value, bool) and bool not in allowed:  # bool is an int: True is not a number here
        raise ModelFormatError(f"{where}: {value!r} is a boolean, expected {text}")
    if not isinstance(value, allowed):
        raise ModelFormatError(f"{where}: {value!r} ({type(value).__name__}) does not match {text}")


def _json_value(value: Any, depth: int = 0) -> bool:
    if depth > 8:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_value(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v, depth + 1) for k, v in value.items())
    return False
