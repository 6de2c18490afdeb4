"""Where a video came from: visible mark, invisible watermark, signed C2PA manifest, fingerprints,
and the auditor's verification report."""
