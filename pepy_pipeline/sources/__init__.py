"""Download sources: where one day of PyPI downloads comes from."""
