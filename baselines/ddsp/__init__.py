"""`ddsp`: differentiable modal + noise + transient synthesis for drum one-shots (see README.md)."""
