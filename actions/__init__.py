"""Small Hours custom actions, served by `rasa run actions`."""
