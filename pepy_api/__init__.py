"""pepy's read API: pepy.tech- and pypistats-compatible endpoints over the serving tables."""
