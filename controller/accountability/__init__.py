"""Accountability: what the regency pays and uses in Rupiah (costs.py), and ISP and site
availability against the contracts' SLA (availability.py, sla.py)."""
