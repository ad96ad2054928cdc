"""Registers every production agent on the app (imported by `sevpro worker`)."""
