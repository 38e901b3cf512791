"""Accountability: what the regency pays and uses in Rupiah (costs.py), ISP and site
availability against the contracts' SLA (availability.py, sla.py), and public-WiFi reach
(reach.py)."""
