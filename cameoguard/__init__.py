"""cameoguard: the wiring of the service (settings, database, auth, audit log, app, CLI).

The product areas live in their own top-level packages (`safety`, `provenance`, `generator`,
`consumers`); this package only assembles them.
"""

__version__ = "0.1.0"
