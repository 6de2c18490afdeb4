"""Invisible watermarks carrying a 64-bit generation id, in video (luma) and audio."""
