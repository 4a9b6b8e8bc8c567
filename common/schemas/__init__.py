"""Marshmallow schemas of the API, the sync protocol and the catalog."""
