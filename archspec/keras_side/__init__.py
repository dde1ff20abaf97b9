"""The Keras side: emit a model from the IR, archspec's own Keras objects, saving and loading,
the static-versus-Keras check, export (SavedModel, ONNX, TFLite) and import (Keras -> spec).

Named so as not to shadow the ``keras`` package. Keras itself is imported lazily
(``backend.keras()``), only when a model is built, loaded or converted.
"""
