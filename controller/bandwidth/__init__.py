"""Office bandwidth: rollups of polled counters, statistics against allocation, schedules,
recommendations and the monthly report."""
