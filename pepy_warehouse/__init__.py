"""The warehouse layer both sides stand on: settings, connections, identifiers and the serving
generation contract. Imports neither Dagster nor FastAPI; ``pepy_pipeline`` writes through it and
``pepy_api`` reads through it, and neither imports the other."""
