"""Cost guards: estimate a query with a dry run, refuse it over the cap, report what it cost."""

from __future__ import annotations

#: On-demand price per TiB scanned (USD), for estimates shown to people.
PRICE_PER_TIB = 6.25


class CostCapExceeded(RuntimeError):
    """A day's query would scan more than ``maximum_bytes_billed``: nothing is run or loaded."""


def human_bytes(value: int | None) -> str:
    if value is None:
        return "unknown"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{size:,.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1000
    return f"{value} B"


def estimated_cost_usd(bytes_processed: int) -> float:
    return bytes_processed / 2**40 * PRICE_PER_TIB


#: The settings that set each cap, named in the refusal so the user raises the right one.
DAY_CAP_SETTING = "PEPY_BIGQUERY_MAXIMUM_BYTES_BILLED"
BALANCE_CAP_SETTING = "PEPY_BIGQUERY_BALANCE_MAXIMUM_BYTES_BILLED"


def check_estimate(dry_run_job, cap: int, what: str, setting: str = DAY_CAP_SETTING) -> int:
    """The dry run's byte estimate, or :class:`CostCapExceeded` naming estimate, cap and the
    ``setting`` that raises it."""
    estimate = int(dry_run_job.total_bytes_processed or 0)
    if estimate > cap:
        raise CostCapExceeded(
            f"{what}: the dry run estimates {human_bytes(estimate)} ({estimate:,} bytes), over the cap "
            f"maximum_bytes_billed = {human_bytes(cap)} ({cap:,} bytes); nothing was run or loaded. "
            f"Raise {setting} if this is expected."
        )
    return estimate


def job_metadata(job, estimate: int) -> dict:
    """What a finished query cost, for run metadata."""
    return {
        "job_id": job.job_id,
        "bytes_estimated": estimate,
        "bytes_processed": int(job.total_bytes_processed or 0),
        "bytes_billed": int(job.total_bytes_billed or 0),
        "slot_ms": int(job.slot_millis or 0),
        "estimated_cost_usd": round(estimated_cost_usd(int(job.total_bytes_billed or 0)), 4),
    }
