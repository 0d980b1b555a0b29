"""privmigrate: bring a brand's past buyers into its private domain."""

__version__ = "0.1.0"
