"""Choosing the backend: options first, then the environment; unknown names are refused."""

from __future__ import annotations

import subprocess

import pytest

from helpers import env_with, tunesmith_command
from tunesmith.model.errors import ValidationException
from tunesmith.runner.backend import Backend
from tunesmith.runner.local import LocalRunner


def test_options_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNESMITH_BACKEND", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("TUNESMITH_RAY_ADDRESS", "head:6379")
    assert Backend.choose() == Backend("local")
    assert Backend.choose("ray") == Backend("ray", "head:6379")
    assert Backend.choose("ray", "other:1").arguments() == [
        "--backend",
        "ray",
        "--ray-address",
        "other:1",
    ]
    monkeypatch.setenv("TUNESMITH_BACKEND", "ray")
    assert Backend.choose().name == "ray"
    assert Backend.choose("local") == Backend("local")
    assert Backend.choose("local").runner_factory() is LocalRunner


def test_a_recorded_backend_is_kept_unless_another_is_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TUNESMITH_BACKEND", raising=False)
    monkeypatch.delenv("TUNESMITH_RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    on_ray = Backend("ray", "head:6379").record()
    assert Backend.choose(recorded=on_ray) == Backend("ray", "head:6379")
    assert Backend.choose(ray_address="moved:1", recorded=on_ray) == Backend("ray", "moved:1")
    assert Backend.choose("local", recorded=on_ray) == Backend("local")
    assert Backend.given() is None and Backend.given("ray", "x:1") == Backend("ray", "x:1")
    # An address alone is a choice of Ray, on a new job or on one recorded elsewhere.
    assert Backend.given(ray_address="x:1") == Backend("ray", "x:1")
    assert Backend.choose(ray_address="x:1", recorded=Backend("local").record()) == Backend(
        "ray", "x:1")
    monkeypatch.setenv("TUNESMITH_RAY_ADDRESS", "env:2")  # moves a recorded Ray job only
    assert Backend.choose(recorded=on_ray) == Backend("ray", "env:2")
    assert Backend.choose(recorded=Backend("local").record()) == Backend("local")
    assert Backend.given() is None
    monkeypatch.delenv("TUNESMITH_RAY_ADDRESS")
    for unreadable in (None, "", "not json", '{"name": "slurm"}', "[1]"):
        assert Backend.choose(recorded=unreadable) == Backend("local")
    monkeypatch.setenv("TUNESMITH_BACKEND", "local")  # the environment is a choice too
    assert Backend.choose(recorded=on_ray) == Backend("local")
    assert Backend.given() == Backend("local")


def test_an_unknown_backend_is_a_validation_error(home) -> None:
    with pytest.raises(ValidationException, match=r"'slurm' at 'backend'.*\[local, ray\]"):
        Backend.choose("slurm")
    result = subprocess.run(
        [*tunesmith_command(), "--backend", "slurm", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_with(),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ValidationException: Value 'slurm' at 'backend'")
