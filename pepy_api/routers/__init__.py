"""API routers, one per family of clients."""
