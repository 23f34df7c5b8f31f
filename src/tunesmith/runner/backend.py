"""Which backend runs an engine's training jobs: local processes (default) or a Ray cluster.

Chosen with ``--backend``/``--ray-address`` (command line), ``backend=``/``ray_address=``
(Python API) or ``TUNESMITH_BACKEND``/``TUNESMITH_RAY_ADDRESS`` (Ray's own ``RAY_ADDRESS``
too), in that order; a Ray address given as an option or argument alone chooses Ray. A detached
engine gets the choice on its command line. An engine records its backend with the tuning job,
and one that resumes the job without a choice of its own uses the recorded one: a Ray job
resumed after a crash runs on Ray again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from tunesmith.model.errors import ValidationException
from tunesmith.runner.base import EventSink, Runner

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Backend:
    name: str = "local"
    ray_address: str | None = None
    """The Ray cluster to join (``HOST:PORT`` of its head); ``None``: Ray's own default."""

    @classmethod
    def choose(
        cls, name: str | None = None, ray_address: str | None = None, recorded: str | None = None
    ) -> Backend:
        """The backend chosen (``name``; a ``ray_address`` alone chooses Ray; else
        ``TUNESMITH_BACKEND``), else the one ``recorded`` for the tuning job (:meth:`record`, its
        Ray address replaced by ``TUNESMITH_RAY_ADDRESS`` when that is set), else local."""
        name = name or ("ray" if ray_address else None) or os.environ.get("TUNESMITH_BACKEND")
        if name is None and (kept := cls.from_record(recorded)) is not None:
            if kept.name != "ray":
                return kept
            return cls("ray", os.environ.get("TUNESMITH_RAY_ADDRESS") or kept.ray_address)
        name = name or "local"
        if name not in BACKENDS:
            raise ValidationException(
                f"Value '{name[:32]}' at 'backend' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(BACKENDS)}]"
            )
        if name != "ray":
            return cls(name)
        address = (
            ray_address
            or os.environ.get("TUNESMITH_RAY_ADDRESS")
            or os.environ.get("RAY_ADDRESS")
        )
        return cls(name, address)

    @classmethod
    def given(cls, name: str | None = None, ray_address: str | None = None) -> Backend | None:
        """The backend chosen by argument or environment; None when nothing was chosen (so that
        an engine resuming a tuning job keeps the backend it recorded)."""
        if name or ray_address or os.environ.get("TUNESMITH_BACKEND"):
            return cls.choose(name, ray_address)
        return None

    def record(self) -> str:
        """How the store keeps it with a tuning job."""
        return json.dumps({"name": self.name, "ray_address": self.ray_address})

    @classmethod
    def from_record(cls, recorded: str | None) -> Backend | None:
        """The backend :meth:`record` kept; None for no record or one this version cannot read."""
        try:
            fields = json.loads(recorded) if recorded else None
            kept = cls(str(fields["name"]), fields.get("ray_address")) if fields else None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return kept if kept is not None and kept.name in BACKENDS else None

    def runner_factory(self) -> Callable[[EventSink], Runner]:
        if self.name == "ray":
            try:
                from tunesmith.runner.ray import RayRunner
            except ImportError:
                raise ValidationException(
                    "The ray backend needs Ray: pip install 'tunesmith[ray]'"
                ) from None
            address = self.ray_address
            return lambda sink: RayRunner(sink, address)
        from tunesmith.runner.local import LocalRunner

        return LocalRunner

    def arguments(self) -> list[str]:
        """The command-line options that choose this backend."""
        options = ["--backend", self.name]
        if self.ray_address:
            options += ["--ray-address", self.ray_address]
        return options
