"""Which backend runs an engine's training jobs: local processes (default) or a Ray cluster.

Chosen with ``--backend``/``--ray-address`` (command line), ``backend=``/``ray_address=``
(Python API) or ``TUNESMITH_BACKEND``/``TUNESMITH_RAY_ADDRESS`` (Ray's own ``RAY_ADDRESS``
too), in that order. A detached engine gets the choice on its command line.
"""

from __future__ import annotations

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
    def choose(cls, name: str | None = None, ray_address: str | None = None) -> Backend:
        name = name or os.environ.get("TUNESMITH_BACKEND") or "local"
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
