"""The FIX 4.4 adapter (the paper venue process and FIX brokers)."""
