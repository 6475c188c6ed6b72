"""The analyst side: triage, fix suggestions, reports, evaluation and queries over stored findings."""
