"""Detection over events: field walking, decoded views, verdicts, fingerprints and redaction operators."""
