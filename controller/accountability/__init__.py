"""Accountability: costs in Rupiah, SLA/availability, public WiFi reach."""
