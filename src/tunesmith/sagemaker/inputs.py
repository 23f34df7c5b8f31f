"""Training data channels: ``fit(inputs)`` to ``InputDataConfig``.

As in the SageMaker SDK, ``inputs`` is one URI (the ``training`` channel), a ``TrainingInput``,
or a mapping of channel names to either. A URI may be ``s3://``, ``file://`` or a local path;
relative paths resolve against the current folder, so a notebook's ``'data'`` means its own
``data`` folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tunesmith.sagemaker.errors import reject_unsupported

DEFAULT_CHANNEL = "training"
LOCAL_INPUT_MODES = ("File", "FastFile")


def local_uri(uri: str | os.PathLike[str]) -> str:
    """An ``s3://`` or ``file://`` URI unchanged; a local path made absolute."""
    text = os.fspath(uri)
    if text.startswith(("s3://", "file://")):
        return text
    return str(Path(text).expanduser().resolve())


class TrainingInput:
    """One data channel: where the data is and how the training job receives it."""

    def __init__(
        self,
        s3_data: str | os.PathLike[str],
        distribution: str | None = None,
        compression: str | None = None,
        content_type: str | None = None,
        record_wrapping: str | None = None,
        s3_data_type: str = "S3Prefix",
        instance_groups: list[str] | None = None,
        input_mode: str | None = None,
        attribute_names: list[str] | None = None,
        target_attribute_name: str | None = None,
        shuffle_config: Any = None,
        hub_access_config: dict[str, Any] | None = None,
        model_access_config: dict[str, Any] | None = None,
    ) -> None:
        reject_unsupported(
            "TrainingInput",
            compression=compression,
            record_wrapping=record_wrapping,
            instance_groups=instance_groups,
            attribute_names=attribute_names,
            target_attribute_name=target_attribute_name,
            shuffle_config=shuffle_config,
            hub_access_config=hub_access_config,
            model_access_config=model_access_config,
        )
        if input_mode is not None and input_mode not in LOCAL_INPUT_MODES:
            raise ValueError(
                f"TrainingInput input_mode={input_mode!r} is not supported locally: "
                f"use one of {', '.join(LOCAL_INPUT_MODES)}"
            )
        source: dict[str, Any] = {
            "S3DataType": s3_data_type,
            "S3Uri": local_uri(s3_data),
            "S3DataDistributionType": distribution or "FullyReplicated",
        }
        self.config: dict[str, Any] = {"DataSource": {"S3DataSource": source}}
        if content_type is not None:
            self.config["ContentType"] = content_type
        if input_mode is not None:
            self.config["InputMode"] = input_mode

    def __repr__(self) -> str:
        return f"TrainingInput({self.config['DataSource']['S3DataSource']['S3Uri']!r})"


Inputs = (
    str | os.PathLike[str] | TrainingInput | dict[str, "str | os.PathLike[str] | TrainingInput"]
)


def _channel(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, TrainingInput):
        return {"ChannelName": name, **value.config}
    if isinstance(value, str | os.PathLike):
        return {"ChannelName": name, **TrainingInput(value).config}
    raise ValueError(
        f"inputs['{name}'] must be a URI, a local path or a TrainingInput, "
        f"not {type(value).__name__}"
    )


def input_data_config(inputs: Inputs | None) -> list[dict[str, Any]] | None:
    """The ``InputDataConfig`` of ``fit(inputs)``: one channel per entry."""
    if inputs is None:
        return None
    if isinstance(inputs, dict):
        return [_channel(str(name), value) for name, value in inputs.items()]
    if isinstance(inputs, str | os.PathLike | TrainingInput):
        return [_channel(DEFAULT_CHANNEL, inputs)]
    raise ValueError(
        f"inputs must be a URI, a local path, a TrainingInput or a dict of them, "
        f"not {type(inputs).__name__}"
    )
