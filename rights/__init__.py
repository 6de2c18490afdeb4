"""Likeness rights after publication: every use of a cameo visible to its owner and taken down
at their word, remix lineage, owners' notifications, likeness claims by estates and rights
holders, hash banks exchanged with other platforms, and continuous likeness matches."""
