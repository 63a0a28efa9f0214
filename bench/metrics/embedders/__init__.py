"""Embedders: audio clips → fixed-size vectors for FAD, KAD, PRDC and the latent metrics.

They are registered in :mod:`bench.registry` (kind ``embedders``); nothing is imported here, so
listing names never loads torch models or frechet-audio-distance.
"""
