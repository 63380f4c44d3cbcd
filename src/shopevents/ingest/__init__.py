"""The collector: limits, store and origin checks, decoding, and the intake transaction."""
