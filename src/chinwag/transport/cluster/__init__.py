"""A node of a cluster (docs/cluster.md): the bus between the nodes, and the node itself."""
