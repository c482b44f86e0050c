"""Gates and the operator's day (R8): probe, shadow run, dry-run and pre-submit gates,
smoke order, and the profile resolution that keeps comparison runs out of executable
routes (R1.1). ``docs/operator-day.md`` is the runbook."""
