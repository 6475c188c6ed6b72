"""Detectors: Presidio recognizers and phiscan's own, the registry of what runs, and the analyzer that runs them."""

from detectors.lightimport import install as _light_presidio

_light_presidio()  # before any detector imports Presidio: no spaCy until a text needs NER
