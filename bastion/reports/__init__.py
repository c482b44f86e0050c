"""Reports: status, reconcile, trades/TCA, P&L, risk; text and HTML."""
