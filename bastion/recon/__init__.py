"""Three-view reconciliation, breaks, locks and the recovery procedure."""
