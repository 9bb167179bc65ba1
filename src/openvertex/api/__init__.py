"""HTTP routes. They know HTTP and the wire shapes, nothing of the engines."""
