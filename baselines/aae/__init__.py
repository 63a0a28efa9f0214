"""`aae`: adversarial autoencoder with a Gaussian or class-mixture prior (Tomczak et al. 2020)."""
