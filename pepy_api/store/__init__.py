"""Read access to the serving tables: frozen generations (embedded) or a live server."""
