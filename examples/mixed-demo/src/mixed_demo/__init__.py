"""Shop sales demo: a Kedro project that mixes pandas and pyspark nodes."""

__version__ = "0.1.0"
