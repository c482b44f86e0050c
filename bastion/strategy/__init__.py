"""Target providers, example strategies, weighted merge, pool cadence, signal-plan risk level."""
