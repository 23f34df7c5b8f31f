"""The problems the optimiser benchmarks run on, and drivers for each optimiser.

Problems are minimisation problems over a ``ParameterRanges`` document: scikit-learn models on
bundled datasets scored by cross-validation (classification: 1 - accuracy; regression:
negative R^2), and synthetic test functions, some with integer and categorical variables.
Every optimiser is driven in-process through its ask/tell interface, so timings measure the
optimiser and not process start-up.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from tunesmith.space import Config, SearchSpace
from tunesmith.strategies.base import Strategy, Trial


@dataclass(frozen=True)
class Problem:
    name: str
    ranges: dict[str, Any]
    evaluate: Callable[[Config], float] = field(repr=False)
    kind: str = "synthetic"

    @property
    def space(self) -> SearchSpace:
        return SearchSpace.from_parameter_ranges(self.ranges)

    @property
    def has_categorical(self) -> bool:
        return bool(self.ranges.get("CategoricalParameterRanges"))


def _cont(name: str, low: float, high: float, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": repr(low), "MaxValue": repr(high), "ScalingType": scaling}


def _int(name: str, low: int, high: int, scaling: str = "Linear") -> dict[str, str]:
    return {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}


def _cat(name: str, values: list[str]) -> dict[str, Any]:
    return {"Name": name, "Values": values}


def _ranges(*params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, list] = {}
    for p in params:
        if "Values" in p:
            out.setdefault("CategoricalParameterRanges", []).append(p)
        elif "." in p["MinValue"] or "e" in p["MinValue"]:
            out.setdefault("ContinuousParameterRanges", []).append(p)
        else:
            out.setdefault("IntegerParameterRanges", []).append(p)
    return out


# --- synthetic functions --------------------------------------------------------------------

def branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: np.ndarray) -> float:
    return float(-(_H6_ALPHA * np.exp(-(_H6_A * (x - _H6_P) ** 2).sum(1))).sum())


def rosenbrock(x: np.ndarray) -> float:
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(-20 * math.exp(-0.2 * math.sqrt((x**2).sum() / d))
                 - math.exp(np.cos(2 * math.pi * x).sum() / d) + 20 + math.e)


def _vec(config: Config, names: list[str]) -> np.ndarray:
    return np.array([float(config[n]) for n in names])


def synthetic_problems() -> list[Problem]:
    h6 = [f"x{i}" for i in range(6)]
    rb = [f"x{i}" for i in range(4)]
    ak = [f"x{i}" for i in range(5)]
    shift = {"a": 0.0, "b": 0.5, "c": 1.5}
    return [
        Problem("branin", _ranges(_cont("x1", -5.0, 10.0), _cont("x2", 0.0, 15.0)),
                lambda c: branin(c["x1"], c["x2"])),
        Problem("hartmann6", _ranges(*(_cont(n, 0.0, 1.0) for n in h6)),
                lambda c: hartmann6(_vec(c, h6))),
        Problem("rosenbrock4", _ranges(*(_cont(n, -2.0, 2.0) for n in rb)),
                lambda c: rosenbrock(_vec(c, rb))),
        Problem("ackley5", _ranges(*(_cont(n, -5.0, 5.0) for n in ak)),
                lambda c: ackley(_vec(c, ak))),
        # Mixed variants: integer grids and a categorical offset.
        Problem("branin-int-cat",
                _ranges(_int("x1", -5, 10), _cont("x2", 0.0, 15.0), _cat("s", list(shift))),
                lambda c: branin(c["x1"], c["x2"]) + shift[c["s"]]),
        Problem("hartmann6-int",
                _ranges(*(_cont(n, 0.0, 1.0) for n in h6[:3]), *(_int(n, 0, 9) for n in h6[3:])),
                lambda c: hartmann6(np.array([*(c[n] for n in h6[:3]),
                                              *(c[n] / 9 for n in h6[3:])]))),
        Problem("ackley-mixed",
                _ranges(*(_cont(n, -5.0, 5.0) for n in ak[:3]), *(_int(n, -5, 5) for n in ak[3:]),
                        _cat("s", list(shift))),
                lambda c: ackley(_vec(c, ak)) + shift[c["s"]]),
    ]


# --- scikit-learn models on bundled datasets --------------------------------------------------

DIGITS_ROWS = 600


@cache
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loader = {"digits": datasets.load_digits, "iris": datasets.load_iris,
              "wine": datasets.load_wine, "breast": datasets.load_breast_cancer,
              "diabetes": datasets.load_diabetes}[name]
    x, y = loader(return_X_y=True)
    if name == "digits":
        # A fixed stratified third of digits: the whole set makes each of its problems 3-4x
        # dearer to evaluate, and they dominated the full profile's cost.
        from sklearn.model_selection import train_test_split

        x, _, y, _ = train_test_split(x, y, train_size=DIGITS_ROWS, stratify=y, random_state=0)
    return StandardScaler().fit_transform(x), y, name != "diabetes"


def _model(model: str, config: Config, classify: bool, seed: int) -> Any:
    from sklearn import ensemble, linear_model, neighbors, neural_network, svm, tree

    c = config
    match model:
        case "RF":
            cls = ensemble.RandomForestClassifier if classify else ensemble.RandomForestRegressor
            return cls(n_estimators=10, max_depth=c["max_depth"], max_features=c["max_features"],
                       min_samples_split=c["min_samples_split"],
                       min_samples_leaf=c["min_samples_leaf"], random_state=seed, n_jobs=1)
        case "GB":
            cls = (ensemble.HistGradientBoostingClassifier if classify
                   else ensemble.HistGradientBoostingRegressor)
            return cls(max_iter=c["max_iter"], learning_rate=c["learning_rate"],
                       max_leaf_nodes=c["max_leaf_nodes"], l2_regularization=c["l2"],
                       random_state=seed)
        case "SVM":
            cls = svm.SVC if classify else svm.SVR
            return cls(C=c["C"], gamma=c["gamma"], kernel=c["kernel"])
        case "kNN":
            cls = neighbors.KNeighborsClassifier if classify else neighbors.KNeighborsRegressor
            return cls(n_neighbors=c["n_neighbors"], p=c["p"], weights=c["weights"])
        case "MLP":
            cls = (neural_network.MLPClassifier if classify
                   else neural_network.MLPRegressor)
            return cls(hidden_layer_sizes=(c["hidden"],), alpha=c["alpha"],
                       learning_rate_init=c["lr"], max_iter=40, random_state=seed)
        case "linear":
            if classify:
                return linear_model.LogisticRegression(C=c["C"], max_iter=200)
            return linear_model.ElasticNet(alpha=c["C"], l1_ratio=c["l1_ratio"], max_iter=2000)
        case "DT":
            cls = tree.DecisionTreeClassifier if classify else tree.DecisionTreeRegressor
            return cls(max_depth=c["max_depth"], min_samples_split=c["min_samples_split"],
                       min_samples_leaf=c["min_samples_leaf"], max_features=c["max_features"],
                       min_impurity_decrease=c["min_impurity_decrease"], random_state=seed)
        case "ada":
            cls = ensemble.AdaBoostClassifier if classify else ensemble.AdaBoostRegressor
            return cls(n_estimators=c["n_estimators"], learning_rate=c["learning_rate"],
                       random_state=seed)
    raise ValueError(model)


_MODEL_RANGES: dict[str, dict[str, Any]] = {
    "RF": _ranges(_int("max_depth", 1, 20), _cont("max_features", 0.05, 1.0),
                  _int("min_samples_split", 2, 20), _int("min_samples_leaf", 1, 10)),
    "GB": _ranges(_int("max_iter", 10, 50, "Logarithmic"),
                  _cont("learning_rate", 1e-3, 1.0, "Logarithmic"), _int("max_leaf_nodes", 2, 64),
                  _cont("l2", 1e-6, 10.0, "Logarithmic")),
    "SVM": _ranges(_cont("C", 1e-2, 1e3, "Logarithmic"), _cont("gamma", 1e-5, 1.0, "Logarithmic"),
                   _cat("kernel", ["rbf", "sigmoid"])),
    "kNN": _ranges(_int("n_neighbors", 1, 30), _int("p", 1, 4), _cat("weights", ["uniform",
                                                                                 "distance"])),
    "MLP": _ranges(_int("hidden", 16, 256, "Logarithmic"),
                   _cont("alpha", 1e-6, 10.0, "Logarithmic"),
                   _cont("lr", 1e-4, 0.5, "Logarithmic")),
    "linear": _ranges(_cont("C", 1e-4, 1e3, "Logarithmic"), _cont("l1_ratio", 0.0, 1.0)),
    "DT": _ranges(_int("max_depth", 1, 20), _cont("min_samples_split", 0.01, 0.5),
                  _cont("min_samples_leaf", 0.005, 0.25), _cont("max_features", 0.05, 1.0),
                  _cont("min_impurity_decrease", 0.0, 0.05)),
    "ada": _ranges(_int("n_estimators", 10, 50, "Logarithmic"),
                   _cont("learning_rate", 1e-3, 10.0, "Logarithmic")),
}


def _sklearn_loss(model: str, data: str, config: Config) -> float:
    # Deterministic (fixed folds and model seeds), so a configuration seen before in this
    # process is not fitted again: integer and categorical spaces (kNN) repeat often.
    return _cached_sklearn_loss(model, data, tuple(sorted(config.items())))


@cache
def _cached_sklearn_loss(model: str, data: str, items: tuple[tuple[str, Any], ...]) -> float:
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    config = dict(items)
    x, y, classify = _dataset(data)
    folds = (StratifiedKFold if classify else KFold)(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(_model(model, config, classify, 0), x, y, cv=folds,
                                 scoring="accuracy" if classify else "r2", error_score=np.nan)
    score = float(np.nanmean(scores)) if np.isfinite(scores).any() else -1.0
    return (1.0 - score) if classify else -score


def sklearn_problems(models: list[str] | None = None, data: list[str] | None = None
                     ) -> list[Problem]:
    out = []
    for model in models or list(_MODEL_RANGES):
        for dataset in data or ["digits", "iris", "wine", "breast", "diabetes"]:
            ranges = _MODEL_RANGES[model]
            if model == "linear" and dataset != "diabetes":
                ranges = _ranges(_cont("C", 1e-4, 1e3, "Logarithmic"))  # logistic: C only
            out.append(Problem(f"{model}-{dataset}", ranges,
                               lambda c, m=model, d=dataset: _sklearn_loss(m, d, c), "sklearn"))
    return out


# --- optimiser drivers ------------------------------------------------------------------------

def run_tunesmith(strategy: Strategy, problem: Problem, budget: int) -> list[float]:
    """Sequential ask/tell; returns the loss of each trial in order."""
    losses = []
    for i in range(budget):
        config = strategy.ask(1)[0]
        loss = problem.evaluate(config)
        strategy.tell([Trial(f"t-{i}", config, loss)])
        losses.append(loss)
    return losses


def optuna_distributions(space: SearchSpace) -> dict[str, Any]:
    import optuna.distributions as d

    out: dict[str, Any] = {}
    for p in space.parameters:
        log = p.warping == "Logarithmic"
        if p.kind == "Categorical":
            out[p.name] = d.CategoricalDistribution(list(p.values))
        elif p.kind == "Integer":
            out[p.name] = d.IntDistribution(int(p.low), int(p.high), log=log)
        else:
            out[p.name] = d.FloatDistribution(p.low, p.high, log=log)
    return out


def optuna_sampler(name: str, seed: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    match name:
        case "Optuna TPE":
            return optuna.samplers.TPESampler(seed=seed)
        case "Optuna GP":
            return optuna.samplers.GPSampler(seed=seed)
        case "Optuna CMA-ES":
            return optuna.samplers.CmaEsSampler(seed=seed)
    raise ValueError(name)


def run_optuna(sampler_name: str, problem: Problem, seed: int, budget: int) -> list[float]:
    import optuna

    study = optuna.create_study(sampler=optuna_sampler(sampler_name, seed))
    distributions = optuna_distributions(problem.space)
    losses = []
    for _ in range(budget):
        trial = study.ask(distributions)
        loss = problem.evaluate(dict(trial.params))
        study.tell(trial, loss)
        losses.append(loss)
    return losses
