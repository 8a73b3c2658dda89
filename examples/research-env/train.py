"""The research-env example's experiment: reads /work/data, writes /work/out."""

import pathlib

import numpy as np

data = pathlib.Path("/work/data/input.txt")
values = np.array([float(x) for x in data.read_text().split()]) if data.exists() else np.arange(4.0)
result = pathlib.Path("/work/out/result.txt")
result.write_text(f"mean={values.mean():.2f} numpy={np.__version__}\n")
print(f"wrote {result}: {result.read_text().strip()}")
