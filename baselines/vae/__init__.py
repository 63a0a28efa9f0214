"""`vae`: β-VAE on the shared waveform autoencoder (prior N(0, I), class-conditioned decoder)."""
