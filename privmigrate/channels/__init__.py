"""Everything that talks over the network: one module per provider or platform."""
