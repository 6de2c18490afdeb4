"""Provenance marks: one interface (`base.Mark`), one registry (`registry.marks`)."""
