"""Read access to the serving tables: frozen generations (embedded) or the newest publish's copy on a server."""
