"""The vocabulary every stage shares: errors, Address/Resource/Stamp models, the kinds
registry, per-kind specs, secret fingerprints. Imports nothing else of ours."""
