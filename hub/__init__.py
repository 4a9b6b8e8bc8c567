"""What only the city hub does: catalog authoring and city-wide aggregation."""

# Registers the mapper events that keep hub_case_tally in step with
# hub_case, before any code can write a HubCase.
from hub import case_tally  # noqa: F401
