"""The shared vocabulary of phiscan, at the bottom of the layers.

`core.model` (Event, Match, Finding, BadRecord...) and `core.paths` (field path
syntax and the leaf walker) are imported by connectors/, detectors/ and
pipeline/ alike; core/ imports none of them.
"""
