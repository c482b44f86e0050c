"""Process control, live runners, scheduling, heartbeats, metrics, alerts, logging."""
