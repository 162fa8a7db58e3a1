"""The Slack sink's ``GET /`` page: what the alerting Lambda posted, for a human.

Self-contained (no external CSS/JS, so it works offline) and every captured value is
HTML-escaped: payloads come from the code under test and may contain anything.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1c1d; }
.msg { border: 1px solid #ddd; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
.failed { border-color: #e01e5a; background: #fff5f7; }
.meta { color: #616061; font-size: .85rem; }
.text { white-space: pre-wrap; margin: .5rem 0; font-size: 1.05rem; }
pre { background: #f8f8f8; padding: .6rem; overflow-x: auto; font-size: .8rem; }
"""


def _message_html(message: dict[str, Any]) -> str:
    body = message.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    pretty = json.dumps(body, indent=2, ensure_ascii=False) if not isinstance(body, str) else body
    received = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(message.get("received_at", 0)))
    status = message.get("status")
    outcome = f"failed ({message.get('reason')})" if message.get("failed") else "delivered"
    parts = [
        f'<div class="msg{" failed" if message.get("failed") else ""}">',
        f'<div class="meta">#{escape(str(message.get("id")))} · {escape(received)} · '
        f"POST {escape(str(message.get('path')))} → {escape(str(status))} "
        f"{escape(outcome)}</div>",
    ]
    if isinstance(text, str):
        parts.append(f'<div class="text">{escape(text)}</div>')
    parts.append(f"<pre>{escape(pretty)}</pre></div>")
    return "\n".join(parts)


def render_page(messages_newest_first: list[dict[str, Any]]) -> str:
    items = "\n".join(_message_html(m) for m in messages_newest_first)
    delivered = sum(1 for m in messages_newest_first if not m.get("failed"))
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        '<meta http-equiv="refresh" content="5">'
        f"<title>Slack sink</title><style>{_STYLE}</style></head><body>"
        f'<h1>Slack sink</h1><p class="meta">{len(messages_newest_first)} received, '
        f"{delivered} delivered. Newest first; refreshes every 5 s.</p>\n"
        f"{items or '<p>No messages yet.</p>'}\n</body></html>\n"
    )
