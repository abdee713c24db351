"""Governance: the council, contributions and voting. This issue holds only the economic figures."""
