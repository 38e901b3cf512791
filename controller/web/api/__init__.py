"""REST API /api/v1: one router per area, pydantic models for every body and response."""
