"""The web explorer: a FastAPI app and one page (`bayesmatrix serve`)."""

from bayesmatrix.server.app import create_app

__all__ = ["create_app"]
