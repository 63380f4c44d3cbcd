"""Worker loops and their steps: abandonment, webhook delivery."""
