"""Customers: the embeddable widget, its demo host page and the guide pages (stub)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("chat", __name__)
