"""Entries and sources as data: schema, discovery, notebook parsing, the graph, fingerprints.

No Dagster imports: the CLI and the notebook kernel use this package cheaply.
"""
