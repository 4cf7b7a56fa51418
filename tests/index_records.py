"""Stack index records as the live read would list them, built with the writer's own pure parts
(core/layout.py, core/index.py, core/signing.py): for tests that plant an index by hand."""

from __future__ import annotations

from typing import Any

from metorial_apply.core.index import Index, head_digest, head_metadata, index_items
from metorial_apply.core.layout import layout
from metorial_apply.core.signing import sign


def index_records(index: Index, *, private: bytes | None = None, head_id: str = "set_head",
                  created: str = "2026-01-01T00:00:00Z") -> list[dict[str, Any]]:
    """The head first, then the shards (ids `set_s<generation>x<n>`), all active."""
    planned = layout(index.stack, index_items(index), ())
    refs = [p.ref(f"set_s{index.generation}x{n}") for n, p in enumerate(planned)]
    signature = sign(head_digest(index, [r.digest for r in refs]), private) if private else None
    head = head_metadata(index, refs, signature)
    updated = index.written or created  # a writer moves the head right after the time it records
    return ([{"id": head_id, "status": "active", "metadata": head, "created_at": created, "updated_at": updated}]
            + [{"id": r.id, "status": "active", "metadata": p.metadata, "created_at": created}
               for r, p in zip(refs, planned, strict=True)])
