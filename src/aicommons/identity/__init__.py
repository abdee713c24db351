"""Identity: member states, institutions, people, roles, API tokens and login."""
