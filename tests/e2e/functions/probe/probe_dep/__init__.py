"""Stands in for a dependency bundled in the deployment zip."""

VALUE = "bundled"
