"""Outside services: Files API, Voyage embeddings, rate limits, the web fetcher."""
