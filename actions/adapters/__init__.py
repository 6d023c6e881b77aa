"""Rasa ``Action`` classes: thin adapters from a conversation to the domain modules."""
