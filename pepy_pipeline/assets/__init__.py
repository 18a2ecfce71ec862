"""Dagster assets of the warehouse, with their checks beside them."""
