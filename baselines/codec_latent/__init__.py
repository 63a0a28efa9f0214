"""`codec_latent`: a residual-VQ codec and a class-conditioned transformer prior over its codes."""
