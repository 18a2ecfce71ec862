"""Reading a run's check evaluations as the tests mean them."""

from __future__ import annotations


def run_checks(result) -> list:
    """The run's own check results, one per check (each day's own, reported for its partition,
    left out: ``day_checks``)."""
    return [e for e in result.get_asset_check_evaluations() if e.partition is None]


def day_checks(result, day) -> dict:
    """Check name -> the evaluation reported for ``day``'s partition."""
    return {e.check_name: e for e in result.get_asset_check_evaluations() if e.partition == day.isoformat()}
