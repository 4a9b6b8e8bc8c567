"""Parts that every tier shares: configuration, divisions, database, models."""
