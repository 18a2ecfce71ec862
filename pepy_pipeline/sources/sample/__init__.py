"""The built-in sample source (no Google account needed)."""

from pepy_pipeline.sources.sample.source import SampleSource

__all__ = ["SampleSource"]
