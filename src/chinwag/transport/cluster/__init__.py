"""Cluster mode: what nodes tell each other over the bus (wire.py) and how."""
