"""Order generation, netting, overrides, limits, the stack handler, algos, rolls, end-of-day."""
