"""Durable state: service-account keys, access tokens, API keys, project grants."""
