"""Write the digits data set (8x8 images of handwritten digits) to data/digits.csv."""

from pathlib import Path

import pandas as pd
from sklearn import datasets

if __name__ == "__main__":
    target = Path(__file__).parent / "data" / "digits.csv"
    target.parent.mkdir(exist_ok=True)
    digits = datasets.load_digits()
    frame = pd.DataFrame(digits.data)
    frame["y"] = digits.target
    frame.to_csv(target, index=False)
    print(f"wrote {len(frame)} rows to {target}")
