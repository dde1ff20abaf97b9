"""`archspec search`: a spec's search space searched on Optuna, each candidate judged by the shape engine first.

The package is `study` (Optuna's word for a search), not `search`: a subpackage of that name would replace the
function ``archspec.search`` as an attribute of the package once imported.
"""
