"""HTML pages of the engineers' UI, one router per area."""
