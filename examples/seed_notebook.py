# %% [markdown]
# # Advanced tuning with a custom training script, locally
#
# The seed's notebook (a random forest on the scikit-learn digits, Random search against
# Bayesian optimisation, then a warm start from both), written for the SageMaker Python SDK v2
# and run here on tunesmith. Only two kinds of lines changed: `from sagemaker... import ...`
# became `from tunesmith.sagemaker import ...`, and S3 URIs became local paths.
#
# Run it as a script (`python examples/seed_notebook.py`) or open `seed_notebook.ipynb`.
# `SEED_MAX_JOBS` and `SEED_MAX_PARALLEL_JOBS` shrink the seed's budgets (50 training jobs per
# tuning job, 2 at a time) for a quick run.

# %%
import os
from pathlib import Path

import pandas as pd
from sklearn import datasets

from tunesmith.sagemaker import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    SKLearn,
    WarmStartConfig,
    WarmStartTypes,
    get_execution_role,
)

try:  # the charts of the seed's amtviz, when tunesmith's viz offers them
    from tunesmith.viz import visualize_tuning_job
except ImportError:
    visualize_tuning_job = None

# A notebook runs in its own folder; a script may be started from anywhere.
HERE = Path(globals().get("__file__", "seed_notebook.ipynb")).resolve().parent
n = int(os.environ.get("SEED_MAX_JOBS", "50"))
k = int(os.environ.get("SEED_MAX_PARALLEL_JOBS", "2"))

# %% [markdown]
# ## Load and prepare the data
# The seed uploads `digits.csv` to S3; here the data folder is the channel's URI.

# %%
s3_data_url = str(HERE / "digits" / "data")
digits = datasets.load_digits()
digits_df = pd.DataFrame(digits.data)
digits_df["y"] = digits.target
Path(s3_data_url).mkdir(parents=True, exist_ok=True)
digits_df.to_csv(Path(s3_data_url) / "digits.csv", index=False)

# %% [markdown]
# ## Define the objective metrics
# The training script prints `pre: 0.970 rec: 0.969 f1: 0.969`; each regex captures one value.

# %%
metric_definitions = [
    {"Name": "valid-precision", "Regex": r"pre:\s+(-?[0-9.]+)"},
    {"Name": "valid-recall", "Regex": r"rec:\s+(-?[0-9.]+)"},
    {"Name": "valid-f1", "Regex": r"f1:\s+(-?[0-9.]+)"},
]

# %% [markdown]
# ## Train once with the scikit-learn estimator
# `instance_type` and `framework_version` are kept as the seed wrote them: the job runs on this
# machine with the scikit-learn installed here.

# %%
estimator = SKLearn(
    "train.py",
    source_dir=str(HERE / "digits"),
    role=get_execution_role(),
    instance_type="ml.m5.large",
    instance_count=1,
    framework_version="0.23-1",
    metric_definitions=metric_definitions,
    # Uncomment the following three lines to use Managed Spot Training
    # use_spot_instances= True,
    # max_run= 60 * 60 * 24,
    # max_wait= 60 * 60 * 24,
    hyperparameters={
        "n-estimators": 100,
        "max-depth": 10,
        "min-samples-leaf": 1,
        "max-features": "auto",
        "min-weight-fraction-leaf": 0.1,
    },
)
estimator.fit({"train": s3_data_url}, wait=True)

# %% [markdown]
# ## Two tuning jobs side by side: Random search and Bayesian optimisation

# %%
hpt_ranges = {
    "n-estimators": IntegerParameter(1, 200),
    "max-depth": IntegerParameter(1, 10),
    "min-samples-leaf": IntegerParameter(1, 10),
    "max-features": CategoricalParameter(["auto", "sqrt", "log2"]),
    "min-weight-fraction-leaf": ContinuousParameter(0.0, 0.5),
}

tuner_parameters = {
    "estimator": estimator,
    "base_tuning_job_name": "random",
    "metric_definitions": metric_definitions,
    "objective_metric_name": "valid-f1",
    "objective_type": "Maximize",
    "hyperparameter_ranges": hpt_ranges,
    "strategy": "Random",
    "max_jobs": n,  # 50
    "max_parallel_jobs": k,  # 2
}

random_tuner = HyperparameterTuner(**tuner_parameters)
random_tuner.fit({"train": s3_data_url}, wait=False)

# %%
tuner_parameters["strategy"] = "Bayesian"
tuner_parameters["base_tuning_job_name"] = "bayesian"
bayesian_tuner = HyperparameterTuner(**tuner_parameters)
bayesian_tuner.fit({"train": s3_data_url}, wait=False)

# %% [markdown]
# Both tuning jobs run at once, each with its own training jobs. Wait for both.

# %%
random_tuner.wait()
bayesian_tuner.wait()
for tuner in (random_tuner, bayesian_tuner):
    best = tuner.describe()["BestTrainingJob"]
    print(
        f"{tuner.latest_tuning_job.name}: best valid-f1 "
        f"{best['FinalHyperParameterTuningJobObjectiveMetric']['Value']:.3f} "
        f"({best['TrainingJobName']})"
    )

# %% [markdown]
# ## Visualise, analyse and compare the results

# %%
if visualize_tuning_job is not None:
    visualize_tuning_job(random_tuner, advanced=True, trials_only=True)

# %%
if visualize_tuning_job is not None:
    visualize_tuning_job([random_tuner, bayesian_tuner], advanced=True, trials_only=True)
pd.concat(
    [random_tuner.analytics().dataframe(), bayesian_tuner.analytics().dataframe()]
).sort_values("FinalObjectiveValue", ascending=False).head(10)

# %% [markdown]
# ## Warm start a third tuning job from both

# %%
random_tuner_name = random_tuner.latest_tuning_job.name
bayesian_tuner_name = bayesian_tuner.latest_tuning_job.name

warm_start_config = WarmStartConfig(
    warm_start_type=WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM,
    parents=[bayesian_tuner_name, random_tuner_name],
)
tuner_parameters["warm_start_config"] = warm_start_config
tuner_parameters["base_tuning_job_name"] = "warmstart"
warmstart_tuner = HyperparameterTuner(**tuner_parameters)
warmstart_tuner.fit({"train": s3_data_url}, wait=False)
warmstart_tuner.wait()

# %%
if visualize_tuning_job is not None:
    visualize_tuning_job(
        [warmstart_tuner, random_tuner_name, bayesian_tuner_name], advanced=True, trials_only=True
    )
best = warmstart_tuner.describe()["BestTrainingJob"]
print(
    f"{warmstart_tuner.latest_tuning_job.name} (warm start from {bayesian_tuner_name} and "
    f"{random_tuner_name}): best valid-f1 "
    f"{best['FinalHyperParameterTuningJobObjectiveMetric']['Value']:.3f}"
)
