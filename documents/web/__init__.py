"""Documents added by URL: create, fetch and refresh."""
