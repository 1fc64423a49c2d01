"""API keys, rate windows, credit balances and the usage ledger."""
