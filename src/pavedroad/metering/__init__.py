"""Metering: prices, token estimates, the cost of each request and the spend ledger."""
