"""A confirmation step for destructive form posts that works without JavaScript.

A form marked `data-confirm` gets a browser dialog from simpul.js, which then adds the field
`confirmed=yes`. A post without that field (no JS, or an old page) gets a page asking the
question, whose button posts the same fields again with it. Nothing changes before that.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from controller.web.deps import render

CONFIRM_FIELD = "confirmed"


async def unless_confirmed(request: Request, question: str, back: str) -> Response | None:
    """None when the post carries `confirmed=yes`; else the page that asks first."""
    form = await request.form()
    if form.get(CONFIRM_FIELD) == "yes":
        return None
    fields = [(k, v) for k, v in form.multi_items()
              if k != CONFIRM_FIELD and isinstance(v, str)]
    return render(request, "confirm.html", question=question, action=request.url.path,
                  fields=fields, back=back)
