"""Prompt and text policy: normalisation, rules from the policy packs, the text classifier, and
the decision (allow / review / block) with its reasons."""
