"""`drumgan`: conditional GAN after DrumGAN (Nistal et al. 2020): noise + class + timbral descriptors → magnitude/IF STFT → iSTFT."""
