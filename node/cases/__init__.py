"""Applications filed at a node and cases handled by it."""
