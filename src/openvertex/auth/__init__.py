"""Google-style authentication: service-account keys, OAuth2 access tokens, API keys."""
