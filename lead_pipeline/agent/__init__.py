"""Agents as users: the ``lead-pipeline mcp`` server (Model Context Protocol, stdio)."""
