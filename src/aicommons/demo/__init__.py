"""The demo facility: believable, illustrative data and the story that walks through it."""
