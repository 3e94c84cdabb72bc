"""A node of a cluster (docs/cluster.md): the Redis bus between the nodes (bus.py), what they
tell each other (wire.py), the node (node.py) and its delivery order (sequencer.py)."""
