"""The project's own verification vectors: minted by `mint`, read through `loader`."""
