"""Real-time features: one spec shared by training and serving, state on Redis.

``features.spec.FEATURE_SPEC`` declares every feature; ``features.engine.FeatureEngine``
computes them live (and, replayed, offline); ``features.offline`` builds training tables.
"""
