"""The event funnel: the one home of the event vocabulary, its weights, "seen" and "warm".

A dataset declares its events in funnel order, weakest first (``view < apply < interview < hire`` for the
synthetic market, ``click < bookmark < reply`` for XING-like logs). Everything that needs to know what an
event means reads it from the dataset's :class:`EventFunnel`:

* **interaction weights** (:attr:`EventFunnel.interaction_weights`): the value of a (seeker, job) pair in
  :meth:`recsys.data.Dataset.interaction_matrix` by default, used by neighbourhood and linear models.
  Every event counts; later stages weigh more.
* **training sample weights** (:attr:`EventFunnel.training_weights`): LightFM's sample weights. Only
  events at or beyond :attr:`EventFunnel.seen_from` count (views are ~6x more numerous than applications
  and, on ``small``, did not improve HR@10 of applications), rescaled so the first such event weighs 1.
* **seen** (:attr:`EventFunnel.seen_events`): a job the seeker reached :attr:`EventFunnel.seen_from` or a
  later stage for is excluded from the seeker's recommendations (``exclude_seen``).
* **warm** (:attr:`EventFunnel.warm_events`): a seeker or job is warm when it has at least one training
  interaction with one of these events (every funnel event); otherwise it is cold / new. The base
  recommender, the splits' cold flags and the ranking API use this one definition.
* **relevance**: any funnel event can define relevance in a split (:attr:`EventFunnel.default_relevant`
  unless told otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class FunnelError(ValueError):
    """An event funnel is malformed, or an event is not part of it."""


@dataclass(frozen=True)
class EventFunnel:
    """Ordered interaction events of one dataset and what they weigh.

    Parameters
    ----------
    events
        Event names in funnel order, weakest first; unique, non-empty strings.
    weights
        Interaction weight of each event (non-negative, at least one positive). Default: ``1, 2, ...,
        n`` in funnel order. Events left out weigh 0.
    seen_from
        First event that makes a job "seen" (excluded from the seeker's recommendations); the events from
        it on are :attr:`seen_events`. Default: ``"apply"`` if the funnel has it, else the first event.

    Examples
    --------
    >>> EventFunnel(("click", "bookmark", "reply"), seen_from="bookmark").seen_events
    ('bookmark', 'reply')
    """

    events: tuple[str, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    seen_from: str | None = None

    def __post_init__(self) -> None:
        events = tuple(self.events) if not isinstance(self.events, str) else (self.events,)
        if not events:
            raise FunnelError("an event funnel needs at least one event")
        bad = [e for e in events if not isinstance(e, str) or not e.strip()]
        if bad:
            raise FunnelError(f"funnel events must be non-empty strings, got {bad!r}")
        if len(set(events)) != len(events):
            raise FunnelError(f"funnel events must be unique, got {list(events)}")
        weights = dict(self.weights) if self.weights else {e: float(i + 1) for i, e in enumerate(events)}
        unknown = sorted(set(weights) - set(events))
        if unknown:
            raise FunnelError(f"funnel weights name event(s) {unknown} that are not in the funnel {list(events)}")
        clean: dict[str, float] = {}
        for event in events:
            value = weights.get(event, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
                    or not np.isfinite(value) or value < 0:
                raise FunnelError(f"funnel weight of {event!r} must be a finite number >= 0, got {value!r}")
            clean[event] = float(value)
        if not any(w > 0 for w in clean.values()):
            raise FunnelError("at least one funnel weight must be positive")
        seen_from = self.seen_from
        if seen_from is None:
            seen_from = "apply" if "apply" in events else events[0]
        if seen_from not in events:
            raise FunnelError(f"seen_from {seen_from!r} is not a funnel event; events: {list(events)}")
        object.__setattr__(self, "events", events)
        object.__setattr__(self, "weights", clean)
        object.__setattr__(self, "seen_from", seen_from)

    # ------------------------------------------------------------------ derived vocabularies
    @property
    def interaction_weights(self) -> dict[str, float]:
        """Weight per event in the interaction matrix (a copy; every funnel event, possibly 0)."""
        return dict(self.weights)

    @property
    def seen_events(self) -> tuple[str, ...]:
        """Events that make a job "seen" for the seeker: :attr:`seen_from` and every later stage."""
        return self.events[self.events.index(str(self.seen_from)):]

    @property
    def warm_events(self) -> tuple[str, ...]:
        """Events that make a seeker or job warm (training history): every funnel event."""
        return self.events

    @property
    def training_weights(self) -> dict[str, float]:
        """Training sample weights: :attr:`weights` of the :attr:`seen_events`, the first rescaled to 1.

        For the synthetic funnel (weights 1, 2, 3, 4) this is ``apply 1, interview 1.5, hire 2``.
        """
        seen = {e: self.weights[e] for e in self.seen_events}
        base = next((w for w in seen.values() if w > 0), 1.0)
        return {e: w / base for e, w in seen.items()}

    @property
    def default_relevant(self) -> str:
        """The event that defines relevance unless a split is told otherwise: :attr:`seen_from`."""
        return str(self.seen_from)

    def rank(self, event: str) -> int:
        """Position of ``event`` in the funnel (0 = weakest); raises :class:`FunnelError` if unknown."""
        self.check(event)
        return self.events.index(event)

    def check(self, event: str, what: str = "event") -> str:
        """Return ``event`` if it is a funnel event, else raise :class:`FunnelError` listing the events."""
        if event not in self.events:
            raise FunnelError(f"{what} {event!r} is not an event of this dataset; its funnel is {list(self.events)}")
        return event

    def check_weights(self, weights: Mapping[str, float], what: str = "weights") -> dict[str, float]:
        """``weights`` as floats after checking every key is a funnel event."""
        unknown = sorted(set(weights) - set(self.events))
        if unknown:
            raise FunnelError(f"{what}: unknown event(s) {unknown}; this dataset's funnel is {list(self.events)}")
        return {str(k): float(v) for k, v in weights.items()}

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored under ``"funnel"`` in a dataset's ``manifest.json``)."""
        return {"events": list(self.events), "weights": dict(self.weights), "seen_from": self.seen_from}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> EventFunnel:
        """Inverse of :meth:`to_dict`; also accepts a bare list of events."""
        if isinstance(payload, Sequence) and not isinstance(payload, str):
            return cls(tuple(payload))
        if not isinstance(payload, Mapping) or "events" not in payload:
            raise FunnelError(f"a funnel needs an 'events' list, got {json.dumps(payload, default=str)[:200]}")
        unknown = sorted(set(payload) - {"events", "weights", "seen_from"})
        if unknown:
            raise FunnelError(f"funnel: unknown key(s) {unknown}; expected events, weights, seen_from")
        return cls(tuple(payload["events"]), dict(payload.get("weights") or {}), payload.get("seen_from"))


SYNTHETIC_FUNNEL = EventFunnel(("view", "apply", "interview", "hire"),
                               {"view": 1.0, "apply": 2.0, "interview": 3.0, "hire": 4.0}, seen_from="apply")
"""The synthetic market's funnel; also the funnel of a dataset that declares none."""

DEFAULT_FUNNEL = SYNTHETIC_FUNNEL

INTERACTION_WEIGHTS: dict[str, float] = SYNTHETIC_FUNNEL.interaction_weights
"""Interaction weights of the default funnel (view 1, apply 2, interview 3, hire 4)."""

TRAINING_SAMPLE_WEIGHTS: dict[str, float] = SYNTHETIC_FUNNEL.training_weights
"""Training sample weights of the default funnel (apply 1, interview 1.5, hire 2; views left out)."""

SEEN_EVENTS: tuple[str, ...] = SYNTHETIC_FUNNEL.seen_events
"""Seen events of the default funnel (apply, interview, hire)."""
