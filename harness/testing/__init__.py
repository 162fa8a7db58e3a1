"""Parts of the harness pytest plugin (harness/pytest_plugin.py)."""
