"""shopevents: a self-hosted eCommerce event backend speaking Connectif's protocol."""

__version__ = "0.1.0"
