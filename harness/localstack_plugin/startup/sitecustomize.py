"""Python 3.11 compatibility for LocalStack 4.13.1, imported at interpreter start.

LocalStack's KMS (`services/kms/models.py`) calls `uuid.uuid5(namespace, <bytes>)`,
which only Python 3.12+ accepts; on 3.11 every `CreateKey` fails with
"encoding without a string argument". This teaches 3.11's uuid5 the 3.12 behaviour
(RFC 4122: SHA-1 of namespace bytes + name bytes). Nothing changes on 3.12+.
"""

import sys

if sys.version_info < (3, 12):
    import hashlib
    import uuid

    _uuid5_str_only = uuid.uuid5

    def _uuid5(namespace: uuid.UUID, name: "str | bytes") -> uuid.UUID:
        if isinstance(name, bytes):
            digest = hashlib.sha1(namespace.bytes + name, usedforsecurity=False).digest()
            return uuid.UUID(bytes=digest[:16], version=5)
        return _uuid5_str_only(namespace, name)

    uuid.uuid5 = _uuid5
