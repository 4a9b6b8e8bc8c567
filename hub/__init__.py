"""What only the city hub does: catalog authoring and city-wide aggregation."""
