"""The runtime: one composition root (`build`) and the drivers over it: scan, stream, scrub, serve."""
