"""Fokus package."""
