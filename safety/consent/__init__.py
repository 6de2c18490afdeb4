"""Cameo consent: enrollment, permissions, revocation and face/voice matching."""
