"""The seed's random-forest training script for the digits data, on current scikit-learn.

Runs unchanged under SageMaker script mode or tunesmith: hyperparameters arrive as arguments,
the data folder as SM_CHANNEL_TRAIN, and the metrics are printed for the tuner's regexes.
"""

import argparse
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import train_test_split

# scikit-learn 1.3 removed max_features='auto'; for classifiers it meant 'sqrt'.
MAX_FEATURES = {"auto": "sqrt"}


def fit(train_dir, n_estimators, max_depth, min_samples_leaf, max_features,
        min_weight_fraction_leaf):
    digits = pd.read_csv(Path(train_dir) / "digits.csv")
    Xtrain, Xtest, ytrain, ytest = train_test_split(
        digits.iloc[:, :-1], digits.iloc[:, -1], test_size=0.2
    )
    m = RandomForestClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        max_features=MAX_FEATURES.get(max_features, max_features),
        min_weight_fraction_leaf=min_weight_fraction_leaf,
    )
    m.fit(Xtrain, ytrain)
    predicted = m.predict(Xtest)
    pre, rec, f1, _ = precision_recall_fscore_support(
        ytest, predicted, pos_label=1, average="weighted", zero_division=0
    )
    print(f"pre: {pre:5.3f} rec: {rec:5.3f} f1: {f1:5.3}")
    return m


def parse_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=10)
    parser.add_argument("--min-samples-leaf", type=int, default=1)
    parser.add_argument("--max-features", type=str, default="auto")
    parser.add_argument("--min-weight-fraction-leaf", type=float, default=0.1)
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    args, _ = parser.parse_known_args()
    return args


if __name__ == "__main__":
    args = parse_arguments()
    model = fit(args.train, args.n_estimators, args.max_depth, args.min_samples_leaf,
                args.max_features, args.min_weight_fraction_leaf)
    if args.model_dir:
        joblib.dump(model, Path(args.model_dir) / "model.joblib")
