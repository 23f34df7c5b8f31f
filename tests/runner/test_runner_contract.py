"""The training contract as a real script sees it: folder, files, arguments, environment."""

from __future__ import annotations

import json
import os
import stat
import tarfile
from pathlib import Path

import pytest
from runner_support import Recorder, spec_for, start_mode, write_script  # noqa: F401

from tunesmith.runner.contract import TrainingSetupError, prepare
from tunesmith.runner.local import LocalRunner

DUMP = """
import json, os, sys
json.dump(
    {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ), "ppid": os.getppid(),
     "pid": os.getpid()},
    open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "seen.json"), "w"),
)
"""

pytestmark = pytest.mark.usefixtures("start_mode")

HYPERPARAMETERS = {
    "x": "0.5",
    "n": "3",
    "kind": '"gini"',
    "plain": "gini",
    "flag": "true",
    "my-param": "[1, 2]",
    "options": '{"b": 2, "a": 1}',
    "sagemaker_submit_directory": '"somewhere"',
    "sagemaker_distributed_dataparallel_enabled": "false",
    "_tuning_objective_metric": "score",
}


def run(tmp_path: Path, **fields: object) -> tuple[dict, Path]:
    recorder = Recorder()
    runner = LocalRunner(recorder)
    spec = spec_for(tmp_path, **fields)  # type: ignore[arg-type]
    runner.start(spec)
    ended = recorder.ended(spec.name)
    runner.close()
    assert ended.status == "Completed", ended.failure_reason
    seen = json.loads((spec.directory / "output" / "data" / "seen.json").read_text())
    # Started cold, the script runs under the shell that leads its group; from the pool, the
    # script leads the group itself. Either way the recorded process is the group's leader.
    leader = json.loads((spec.directory / "runner" / "process.json").read_text())["pid"]
    cold = os.environ["TUNESMITH_POOL"] == "0"
    assert leader == (seen["ppid"] if cold else seen["pid"])
    return seen, spec.directory


@pytest.fixture
def channels(tmp_path: Path) -> dict[str, Path]:
    train = tmp_path / "data" / "train"
    train.mkdir(parents=True)
    (train / "part-0.csv").write_text("1,2\n")
    single = tmp_path / "data" / "valid.csv"
    single.write_text("3,4\n")
    return {"train": train, "valid-set": single}


def test_arguments_are_decoded_sorted_and_leave_out_sagemaker_hyperparameters(
    tmp_path: Path,
) -> None:
    seen, _ = run(tmp_path, source=DUMP, hyperparameters=HYPERPARAMETERS)
    assert seen["argv"] == [
        "--_tuning_objective_metric", "score",
        "--flag", "True",
        "--kind", "gini",
        "--my-param", "[1, 2]",
        "--n", "3",
        "--options", "a=1,b=2",
        "--plain", "gini",
        "--x", "0.5",
    ]


def test_environment_follows_the_training_toolkit(
    tmp_path: Path, channels: dict[str, Path]
) -> None:
    seen, directory = run(
        tmp_path, source=DUMP, hyperparameters=HYPERPARAMETERS, channels=channels, cpus=3,
        environment={"SM_CURRENT_HOST": "mine", "EXTRA": "1"},
    )
    env, root = seen["env"], directory.absolute()
    assert env["SM_MODEL_DIR"] == str(root / "model")
    assert env["SM_OUTPUT_DATA_DIR"] == str(root / "output" / "data")
    assert env["SM_OUTPUT_DIR"] == str(root / "output")
    assert env["SM_INPUT_DIR"] == str(root / "input")
    assert env["SM_INPUT_CONFIG_DIR"] == str(root / "input" / "config")
    assert env["SM_CHECKPOINT_DIR"] == str(root / "checkpoints")
    assert json.loads(env["SM_CHANNELS"]) == ["train", "valid-set"]
    assert env["SM_CHANNEL_TRAIN"] == str(root / "input" / "data" / "train")
    assert env["SM_CHANNEL_VALID_SET"] == str(root / "input" / "data" / "valid-set")
    assert env["SM_NUM_CPUS"] == "3" and env["SM_NUM_GPUS"] == "0"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_CURRENT_HOST"] == "mine"  # the job's own Environment wins
    assert env["EXTRA"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    hps = json.loads(env["SM_HPS"])
    assert hps["x"] == 0.5 and hps["kind"] == "gini" and hps["my-param"] == [1, 2]
    assert "sagemaker_submit_directory" not in hps
    assert env["SM_HP_X"] == "0.5" and env["SM_HP_KIND"] == "gini"
    assert env["SM_HP_MY_PARAM"] == "[1,2]" and env["SM_HP_FLAG"] == "true"
    assert json.loads(env["SM_FRAMEWORK_PARAMS"]) == {
        "sagemaker_distributed_dataparallel_enabled": False
    }
    assert env["SM_MODULE_NAME"] == "train" and env["SM_USER_ENTRY_POINT"] == "train.py"
    assert json.loads(env["SM_USER_ARGS"])[:2] == ["--_tuning_objective_metric", "score"]
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["hyperparameters"] == hps
    assert training_env["channel_input_dirs"]["train"] == env["SM_CHANNEL_TRAIN"]
    assert training_env["job_name"] == "job-001-abcdef12"
    assert "CUDA_VISIBLE_DEVICES" not in env or env["CUDA_VISIBLE_DEVICES"] == os.environ.get(
        "CUDA_VISIBLE_DEVICES"
    )


def test_folder_and_config_files(tmp_path: Path, channels: dict[str, Path]) -> None:
    seen, directory = run(
        tmp_path, source=DUMP, hyperparameters=HYPERPARAMETERS, channels=channels
    )
    config = directory / "input" / "config"
    written = json.loads((config / "hyperparameters.json").read_text())
    assert written == {"sagemaker_program": '"train.py"', **HYPERPARAMETERS}
    assert all(isinstance(v, str) for v in written.values())
    resources = json.loads((config / "resourceconfig.json").read_text())
    assert resources["current_host"] == "algo-1" and resources["hosts"] == ["algo-1"]
    assert resources["network_interface_name"]
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        name: {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for name in ("train", "valid-set")
    }
    data = directory / "input" / "data"
    assert (data / "train" / "part-0.csv").read_text() == "1,2\n"
    assert (data / "valid-set" / "valid.csv").read_text() == "3,4\n"
    for folder in ("model", "output/data", "checkpoints"):
        assert (directory / folder).is_dir()
    assert seen["cwd"] == str((tmp_path / "job-001-abcdef12-src").absolute())


def test_gpus_restrict_cuda_visible_devices(tmp_path: Path) -> None:
    write_script(tmp_path / "src", "print()\n")
    spec = spec_for(tmp_path, source_dir=tmp_path / "src", gpus=(0, 2))
    process = prepare(spec, parent_env={"CUDA_VISIBLE_DEVICES": "0,1,2,3"})
    assert process.env["CUDA_VISIBLE_DEVICES"] == "0,2"
    assert process.env["SM_NUM_GPUS"] == "2"
    unassigned = prepare(spec_for(tmp_path, source_dir=tmp_path / "src"), parent_env={})
    assert "CUDA_VISIBLE_DEVICES" not in unassigned.env


def test_missing_program_source_or_data_cannot_be_prepared(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetupError, match=r"training program train\.py does not exist"):
        prepare(spec_for(tmp_path, source_dir=tmp_path))
    with pytest.raises(TrainingSetupError, match=r"source folder .* does not exist"):
        prepare(spec_for(tmp_path, source_dir=tmp_path / "nowhere"))
    write_script(tmp_path / "src", "print()\n")
    with pytest.raises(TrainingSetupError, match="data of channel train does not exist"):
        prepare(spec_for(tmp_path, source_dir=tmp_path / "src",
                         channels={"train": tmp_path / "none"}))


def test_shell_and_executable_programs(tmp_path: Path) -> None:
    shell = 'echo "$@" > "$SM_OUTPUT_DATA_DIR/args.txt"\n'
    recorder = Recorder()
    runner = LocalRunner(recorder)
    sh_spec = spec_for(tmp_path, "sh-job", source=shell, program="train.sh",
                       hyperparameters={"lr": "0.1"})
    direct = spec_for(tmp_path, "exe-job", source="#!/bin/sh\n" + shell, program="train",
                      hyperparameters={"lr": "0.2"})
    executable = direct.source_dir / "train"
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    runner.start(sh_spec)
    runner.start(direct)
    for spec, expected in ((sh_spec, "--lr 0.1"), (direct, "--lr 0.2")):
        ended = recorder.ended(spec.name)
        assert ended.status == "Completed", ended.failure_reason
        assert (spec.directory / "output" / "data" / "args.txt").read_text().strip() == expected
    runner.close()


def test_tar_gz_source_is_extracted_into_code_and_run_there(tmp_path: Path) -> None:
    source = write_script(tmp_path / "pkg", DUMP + "import helper\n")
    (source.parent / "helper.py").write_text("VALUE = 1\n")
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="train.py")
        tar.add(source.parent / "helper.py", arcname="helper.py")
    seen, directory = run(tmp_path, source_dir=archive)
    assert seen["cwd"] == str(directory.absolute() / "code")
    assert (directory / "code" / "helper.py").exists()

