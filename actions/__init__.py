"""Rasa custom actions and the domain logic they use."""
