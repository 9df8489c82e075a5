"""IVR scenarios (F1-F6): a graph of nodes the administrator builds, walked
for each call by the engine.

A graph is JSON: ``{"start": NODE_ID, "nodes": {NODE_ID: {"type": ..., ...}}}``.
Each node type is a small module in ``nodes/`` with its outputs, its
validation and what it does with the call (through a ``CallIO``, so the same
walk runs on a real call over AGI and in the panel's simulator).
"""
