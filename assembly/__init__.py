"""The composition root: builds the application, the CLI and the workers from the kernel
(`cameoguard`) and the areas (`safety`, `provenance`, `generator`, `consumers`), and passes each
the services it needs. Nothing imports this package but its entry points."""
