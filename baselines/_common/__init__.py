"""Blocks shared by the autoencoder baselines (``vae``, ``aae``).

stft.py        log-mel front end and the magnitude+phase iSTFT synthesis head
losses.py      multi-resolution STFT (+ waveform L1) reconstruction loss
blocks.py      FiLM-conditioned residual 1-D convolutions
priors.py      N(0, I) and the one-Gaussian-per-class mixture prior
autoencoder.py the class-conditioned waveform autoencoder both baselines train
baseline.py    the plugin scaffolding: fit loop, generation, checkpoints, devices
"""
