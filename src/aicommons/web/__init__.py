"""Server-rendered portal pages. Every page works without JavaScript."""
