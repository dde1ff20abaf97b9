"""The spec language: reading text with positions, expressions, the Pydantic models, validation,
the training section, the built-in templates and the JSON Schema for editors.

read -> validate: ``loading.load``/``loads``/``coerce`` give a validated spec model whose
private ``_source`` keeps the positions every later error message points at.
"""
