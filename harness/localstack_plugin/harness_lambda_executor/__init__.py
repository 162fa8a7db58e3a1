"""LocalStack Lambda runtime executor running Python functions as local processes."""
