"""Retrieval: ingestion, structure-aware chunking, hybrid search with citations."""
