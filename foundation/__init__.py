"""The foundation: settings, company settings, schedule, logging, paths and shared types.

Imports nothing of this project except `schemas/`; every other package may import it.
"""
