"""A plan as a pull-request comment: title with counts, table by kind, destructive and drift
lines, one collapsible block per change, footer. Kept under a size limit by leaving out
details from the end, least important first (unchanged, then updates, then creates).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from metorial_apply.core.inert import inert, md_inert
from metorial_apply.planning.action import CORE_ACTIONS
from metorial_apply.planning.plan import Action, Plan
from metorial_apply.render.values import NONE, SECRET, SECRET_MARKS, format_value
from metorial_apply.render.view import CHANGE_ACTIONS, FieldLine, RenderContext, Row, View, build_view
from metorial_apply.render.worddiff import LongChange, long_change

GITHUB_COMMENT_LIMIT = 65536
LIST_MAX = 25  # addresses named in the one-line destructive and drift summaries
VALUE_WIDTH = 120
# Which details go first when the comment is too long: lower goes earlier.
DROP_PRIORITY = {a: a.cls.keep for a in Action}
MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


@dataclass(frozen=True)
class Block:
    """One droppable part: the details of one change, or the list of unchanged resources."""

    text: str
    action: Action
    resources: int = 1


def render_markdown(plan: Plan, context: RenderContext, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The plan as GitHub-flavoured Markdown of at most `limit` characters; ends with a newline."""
    return markdown_of(build_view(plan, context), limit=limit)


def markdown_of(view: View, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    head = [title(view)] + (["> **Secrets not compared** (`--no-secrets`): for review only; this plan cannot "
                             "be applied."] if view.context.no_secrets else [])
    head += kind_table(view) + blocked_block(view) + destructive_line(view) + drift_line(view)
    head += note_block(view)
    return fit(head, detail_blocks(view), footer(view), view, limit)


# -- escaping -------------------------------------------------------------------------------


def md_text(text: str) -> str:
    """Text safe in a Markdown paragraph or table cell: inert, no mention or issue link, no
    HTML, no formatting, no broken tables."""
    flat = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return MD_SPECIAL.sub(r"\\\1", html.escape(md_inert(flat), quote=False))


def html_text(text: str) -> str:
    """Text safe inside an HTML block (where Markdown is not processed): inert, no mention."""
    return html.escape(md_inert(text.replace("\n", " ")), quote=False)


def code_span(text: str) -> str:
    """Inline code that survives backticks in the text, per CommonMark's fence rule. Inert;
    GitHub forms no mention or issue link inside code."""
    text = inert(text.replace("\n", " "))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# -- head -----------------------------------------------------------------------------------


def title(view: View) -> str:
    counts = [f"{view.counts[a.value]} {a.value}" for a in CHANGE_ACTIONS if view.counts[a.value]]
    return f"### metorial-apply · {code_span(view.stack)} · {' · '.join(counts) or 'no changes'}"


def kind_table(view: View) -> list[str]:
    if not view.kinds:
        return ["Live state matches the configuration."]
    # The four classic columns always; an adoption action only when the plan has one.
    columns = [a for a in CHANGE_ACTIONS if a in CORE_ACTIONS or view.counts[a.value]]
    lines = ["| kind | " + " | ".join(a.value for a in columns) + " |",
             "| --- | " + " | ".join("---:" for _ in columns) + " |"]
    for k in view.kinds:
        cells = [str(k.counts[a.value]) if k.counts[a.value] else "" for a in columns]
        lines.append(f"| {md_text(k.kind)} | " + " | ".join(cells) + " |")
    return ["\n".join(lines)]


def capped(items: list[str]) -> str:
    shown = " · ".join(items[:LIST_MAX])
    more = len(items) - LIST_MAX
    return shown + (f" · … and {more:,} more" if more > 0 else "")


def note_block(view: View) -> list[str]:
    """Plan notes, once, after the summary table."""
    return ["\n".join(f"> **Note:** {code_span(a)}: {md_text(t)}  " for a, t in view.notes).rstrip()] \
        if view.notes else []


def blocked_block(view: View) -> list[str]:
    """What apply with plan's gate flags would refuse, each with what unblocks it."""
    found = view.context.blocked
    if not found:
        return []
    items = [f"> - {md_text(b.message)}" + (f" **Unblock:** {md_text(b.unblock)}" if b.flag else "") for b in found]
    return ["\n".join(["> **Blocked:** apply would refuse this plan:", *items])]


def destructive_line(view: View) -> list[str]:
    rows = view.destructive
    if not rows:
        return []
    items = [f"{code_span(f'{r.marker} {r.address}')} — {md_text(r.reason)}" for r in rows]
    return ["> **Destructive:** " + capped(items)]


def drift_line(view: View) -> list[str]:
    rows = view.drift
    if not rows:
        return []
    items = [f"{code_span(r.address)} {md_text(', '.join(f.label for f in r.fields))}".rstrip() for r in rows]
    return ["**Changed outside metorial-apply:** " + capped(items) + " (will be restored)"]


# -- details --------------------------------------------------------------------------------


def detail_blocks(view: View) -> list[Block]:
    blocks = [Block(detail(row), row.action) for row in view.rows]
    if view.noops:
        names = " · ".join(code_span(r.address) for r in view.noops)
        text = f"<details><summary>{len(view.noops)} unchanged</summary>\n\n{names}\n\n</details>"
        blocks.append(Block(text, Action.NOOP, len(view.noops)))
    return blocks


def detail(row: Row) -> str:
    summary = f"<code>{html_text(f'{row.marker} {row.address}')}</code> — {html_text(row.reason)}"
    if not row.fields:
        return f"{code_span(f'{row.marker} {row.address}')} — {md_text(row.reason)}"
    return f"<details><summary>{summary}</summary>\n\n{field_table(row)}\n\n</details>"


def field_table(row: Row) -> str:
    if row.action in (Action.CREATE, Action.DELETE):
        lines = ["| field | value |", "| --- | --- |"]
        lines += [f"| {md_text(f.label)} | {cell(f, f.after if f.mode == 'after' else f.before, row.kind)} |"
                  for f in row.fields]
    else:
        lines = ["| field | before | after |", "| --- | --- | --- |"]
        lines += [f"| {md_text(f.label)} | {cell(f, f.before, row.kind, 'before')} | {cell(f, f.after, row.kind)} |"
                  for f in row.fields]
    return "\n".join(lines)


def cell(line: FieldLine, value: object, kind: str, side: str = "after") -> str:
    long = None if line.secret or line.mode != "change" else long_change(line.before, line.after, line.shape,
                                                                          VALUE_WIDTH)
    if long is not None:
        return long_cell(long, side)
    if line.secret:
        if side == "after":
            return f"*{SECRET_MARKS.get(line.secret, SECRET)}*"
        return f"*{NONE if line.secret == 'added' else SECRET}*"
    return md_text(format_value(value, line.shape, quote=False, width=VALUE_WIDTH, kind=kind))


def long_cell(long: LongChange, side: str) -> str:
    """One side of a long change, whole: removed words ~~struck~~ before, added words **bold**
    after (context elided with …); for a list, the items removed or added."""
    if not long.words:
        items = long.removed if side == "before" else long.added
        return f"{'removed' if side == 'before' else 'added'}: " + (", ".join(md_text(x) for x in items) or "–")
    mine, mark = ("delete", "~~") if side == "before" else ("insert", "**")
    return "".join(md_text(t) if op == "equal" else f"{mark}{md_text(t)}{mark}"
                   for op, t in long.words if op in ("equal", mine)).strip()


# -- footer and size ------------------------------------------------------------------------


def footer(view: View) -> str:
    ctx = view.context
    parts = []
    if ctx.plan_checksum:
        digest = ctx.plan_checksum.removeprefix("sha256:")
        parts.append(f"plan sha256:{html_text(digest[:12])}…")
    if ctx.stats is not None and ctx.stats.api_calls is not None:
        parts.append(f"{ctx.stats.api_calls} API call{'' if ctx.stats.api_calls == 1 else 's'}")
    parts.append(f"metorial-apply {html_text(ctx.version)}")
    return f"<sub>{' · '.join(parts)}</sub>"


def assemble(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p) + "\n"


def fit(head: list[str], blocks: list[Block], foot: str, view: View, limit: int) -> str:
    """Everything when it fits; otherwise leave out details until it does and say so."""
    full = assemble(head + [b.text for b in blocks] + [foot])
    if len(full) <= limit:
        return full
    total = len(full) + len(omission_note(blocks, view, limit)) + 2  # the note is never longer than this
    dropped: set[int] = set()
    for i in sorted(range(len(blocks)), key=lambda i: (DROP_PRIORITY[blocks[i].action], -i)):
        if total <= limit:
            break
        dropped.add(i)
        total -= len(blocks[i].text) + 2
    left_out = [b for i, b in enumerate(blocks) if i in dropped]
    kept = [b.text for i, b in enumerate(blocks) if i not in dropped]
    text = assemble(head + kept + [omission_note(left_out, view, limit), foot])
    return text if len(text) <= limit else hard_cut(text, limit)


def omission_note(left_out: list[Block], view: View, limit: int) -> str:
    """Says what was left out and where the rest is; never longer for fewer blocks."""
    changes = sum(b.resources for b in left_out if b.action is not Action.NOOP)
    unchanged = sum(b.resources for b in left_out if b.action is Action.NOOP)
    parts = [f"details of {changes:,} change{'' if changes == 1 else 's'}"] if changes else []
    parts += [f"the list of {unchanged:,} unchanged resource{'' if unchanged == 1 else 's'}"] if unchanged else []
    hint = view.context.full_plan_hint
    where = md_text(hint) if hint else "the output of `metorial-apply plan`"
    return f"*Left out to stay under {limit:,} characters: {' and '.join(parts)}. The full plan is in {where}.*"


def hard_cut(text: str, limit: int) -> str:
    """Last resort when even the summaries pass the limit (a tiny limit): cut and say so."""
    tail = "\n\n*… cut to fit the comment size limit.*\n"
    return text[: max(limit - len(tail), 0)] + tail if limit > len(tail) else text[:limit]
