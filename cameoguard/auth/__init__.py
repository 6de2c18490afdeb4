"""API keys with scopes (platform, reviewer, auditor, admin) and reviewer roles; stored hashed."""
