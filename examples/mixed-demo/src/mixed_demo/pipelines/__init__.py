"""Pipelines of the shop sales demo."""
