"""Cluster mode: stateless collectors publish each request to a replicated NATS JetStream
stream; processors apply it to PostgreSQL with the same intake service as the embedded mode."""
