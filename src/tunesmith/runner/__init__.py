"""Backends that run training jobs under the training contract and report their events.

The interface lives in :mod:`tunesmith.runner.base`, the training contract in
:mod:`tunesmith.runner.contract`, local processes in :mod:`tunesmith.runner.local`. This package
imports none of the backends, so importing the interface stays cheap and free of cycles.
"""
