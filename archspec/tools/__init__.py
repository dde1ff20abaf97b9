"""Consumers of the IR and of trained models that show or compare: the shapes table, diff,
render (a resolved spec), the kind reference, diagrams (draw) and feature-map reports (inspect).
"""
