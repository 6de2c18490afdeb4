"""Decisions about content and people: prompt and text policy, cameo consent, the ML model
wrappers, and the human review queue. Nothing here knows about Kafka."""
