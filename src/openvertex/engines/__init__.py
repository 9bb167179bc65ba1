"""Backends that generate text. Each speaks `engines.base.Engine`."""
