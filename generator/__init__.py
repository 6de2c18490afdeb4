"""The generation pipeline behind the policy layer, and its rendering backends."""
