"""SVG icons drawn for Frontdesk (monochrome ones use currentColor)."""
