"""`archspec serve`: a live page to write a spec and watch its shapes, and to draw a digit and watch a
trained network see it.

    archspec serve specs/resnet50.yaml          # editor | shapes table | diagram
    archspec serve runs/lenet-20261125-1200     # and: draw a digit -> probabilities and feature maps

A small Starlette app on uvicorn (the optional extra ``archspec[serve]``), bound to 127.0.0.1
unless ``--host`` says otherwise. It reuses what the commands use, and re-implements none of it:
the spec pane checks each edit through the pure-Python path that `archspec shapes` takes
(``spec_view``) and shows `archspec draw`'s page; the model pane runs each image through the
model's preprocessing plan, as `predict` does, and shows `inspect`'s figures (``model_view``).
It reads only the spec or run it was started with and writes only that spec (``--read-only``:
never); requests are limited in size and rate, and refused as JSON (``limits``, ``app``).

Modules: ``spec_view`` and ``model_view`` (the work, plain Python), ``work`` (where it runs: worker
processes and budgets), ``limits`` (refusals and rate limits), ``app`` (routes and the guard), ``page``
(the page and its assets), ``run`` (start, stop, slow clients).
"""

from .run import serve

__all__ = ["serve"]
