"""The toolkit's version (recorded in every saved result's marker, for the reader)."""

__version__ = "0.5.0"
