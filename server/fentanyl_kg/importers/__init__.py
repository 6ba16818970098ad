"""Readers of external tables that write graph_data records."""
