"""Feed signals: one interface (`base.FeedSignal`), one registry (`registry.SIGNALS`)."""
