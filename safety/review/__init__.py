"""Review: cases, exclusive claims, decisions, appeals, user reports, the reviewer's page."""
