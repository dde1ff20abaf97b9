"""Training, evaluation and prediction from a spec (`archspec train`, `evaluate`, `predict`).

Importing this package is light: TensorFlow is imported by `run`, `data`,
`recipe`, `evaluate` and `predict` when they are used. The package is
``training`` so that ``archspec.train`` stays the function ``archspec.train(...)``.
"""
