"""Node agents: trainer, verifier and aggregator loops driven by contract events (issue 5)."""
