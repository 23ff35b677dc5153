"""Pieces of the Settings page (ui/settings_page.py): field editors and the template editor."""
