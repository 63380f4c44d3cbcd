"""The worker: one loop (loop.py) over one list of steps (steps.py), in every host."""
