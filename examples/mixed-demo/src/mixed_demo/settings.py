"""Kedro project settings: the defaults, so loading the catalog never starts Spark."""
