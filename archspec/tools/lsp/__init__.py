"""`archspec lsp`: archspec's own answers (problems, shapes, counts) in the editor, over the Language Server Protocol.

``analysis`` is the pure part (text -> problems and per-layer figures, the same pipeline as `validate`);
``server`` wraps it in pygls and is imported only by the `lsp` command, so no other command pays for pygls.
"""
