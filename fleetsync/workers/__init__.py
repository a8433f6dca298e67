"""The pipeline's stages as Celery tasks: thin shells around `fleetsync.shared`.

Each task takes ids, re-reads state from the store, makes one call into `fleetsync.shared`,
writes the outcome and enqueues the next step.
"""
