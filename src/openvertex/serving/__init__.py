"""Holding up under load: admission, quotas, metering and draining, around the engine."""
