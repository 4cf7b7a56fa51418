"""A plan as terminal text: header, drift, summary, one block per change, apply hint.

Colour is a parameter: with `color=True` markers and addresses get plain ANSI colours (green +,
yellow ~, magenta -/+, red -); without it the text is exactly the golden-file form.
"""

from __future__ import annotations

import shlex
import textwrap

from metorial_apply.core.inert import inert
from metorial_apply.planning.action import CORE_ACTIONS
from metorial_apply.planning.plan import Action, Plan
from metorial_apply.render.values import SECRET, SECRET_MARKS, cut, format_value, one_line
from metorial_apply.render.view import ACTION_ORDER, FieldLine, RenderContext, Row, View, build_view
from metorial_apply.render.worddiff import long_change, marked

COLORS = {a: a.cls.color for a in Action}
BOLD, YELLOW, RED = "1", "33", "31"
GATE_FLAGS = ("--allow-delete", "--force", "--allow-empty")  # what "Blocked" says apply was given
ADDRESS_WIDTH_MAX = 56  # beyond this, long addresses push their reason right instead of everyone's
LABEL_WIDTH_COMMON = 13  # "client_secret"; child paths like providers[x].tools stay out
LABEL_WIDTH_MAX = 28
VALUE_WIDTH = 60
WRAP_WIDTH = 90  # a long change wraps here, whole
NO_SECRETS = "Secrets not compared (--no-secrets): for review only; this plan cannot be applied."
DRIFT_WIDTH = 100


def render_text(plan: Plan, context: RenderContext, *, color: bool = False) -> str:
    """The plan for a terminal or a CI log; ends with a newline."""
    return text_of(build_view(plan, context), color=color)


def text_of(view: View, *, color: bool = False) -> str:
    lines = header_lines(view) + drift_lines(view, color) + summary_lines(view, color) + blocked_lines(view, color)
    lines += note_lines(view)
    lines += change_lines(view, color) + footer_lines(view)
    return "\n".join(lines) + "\n"


def paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and text else text


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def header_lines(view: View) -> list[str]:
    ctx = view.context
    lines = [f"metorial-apply plan · stack {view.stack} · {inert(ctx.api_url)}"]
    if ctx.no_secrets:
        lines.append(NO_SECRETS)
    if ctx.stats is not None:
        s = ctx.stats
        lines.append(
            f"Read live state: {plural(s.kinds, 'kind')}, {plural(s.list_calls, 'list call')}, {s.seconds:.1f} s"
        )
    return lines + [""]


def drift_lines(view: View, color: bool) -> list[str]:
    rows = view.drift
    if not rows:
        return []
    width = address_width(rows)
    lines = [paint("Changed outside metorial-apply (will be restored):", YELLOW, color)]
    for row in rows:
        what = "; ".join(f"{f.label}: {change_text(f, kind=row.kind, width=VALUE_WIDTH)}" for f in row.fields)
        what = what or row.reason
        lines.append(head_line(row, width, cut(what, DRIFT_WIDTH), color))
    return lines + [""]


def summary_lines(view: View, color: bool) -> list[str]:
    if not view.rows:
        return ["No changes. Live state matches the configuration."]
    c = view.counts
    extra = "".join(f", {c[a.value]} {a.cls.summary}" for a in ACTION_ORDER
                    if a not in CORE_ACTIONS and a is not Action.NOOP and c[a.value])
    text = (f"Plan: {c['create']} to create, {c['update']} to update, "
            f"{c['replace']} to replace, {c['delete']} to delete{extra}.")
    return [paint(text, BOLD, color), ""]


def blocked_lines(view: View, color: bool) -> list[str]:
    """What apply with plan's gate flags would refuse, each with what unblocks it."""
    found = view.context.blocked
    if not found:
        return []
    lines = [paint(f"Blocked: apply{_with_flags(view)} would refuse this plan:", RED, color)]
    for b in found:
        lines.append(f"  ✗ {inert(b.message)}")
        if b.flag:
            lines.append(f"    Unblock: {b.unblock}")
    return lines + [""]


def _with_flags(view: View) -> str:
    gates = [f for f in view.context.apply_flags if f in GATE_FLAGS]
    return f" {' '.join(gates)}" if gates else ""


def note_lines(view: View) -> list[str]:
    """Plan notes, once, after the summary (a blank line ends them when changes follow)."""
    if not view.notes:
        return []
    lines = [f"Note: {inert(address)}: {inert(text)}" for address, text in view.notes]
    return ([""] if not view.rows else []) + lines + ([""] if view.rows else [])


def change_lines(view: View, color: bool) -> list[str]:
    width = address_width(view.rows)
    # Field labels share one column across changes; a rare long label only widens its own change.
    common = max((len(f.label) for r in view.rows for f in r.fields if len(f.label) <= LABEL_WIDTH_COMMON), default=0)
    lines: list[str] = []
    for row in view.rows:
        lines.append(head_line(row, width, row.reason, color))
        lines.extend(field_text_lines(row, common))
    return lines


def address_width(rows: tuple[Row, ...]) -> int:
    return min(max((len(f"{r.marker} {r.address}") for r in rows), default=0), ADDRESS_WIDTH_MAX)


def head_line(row: Row, width: int, tail: str, color: bool) -> str:
    """`  ~ deployment.github      reason`, padded on the plain text so colour never shifts columns."""
    lead = f"{row.marker} {row.address}"
    pad = " " * (max(width - len(lead), 0) + 3)
    return f"  {paint(lead, COLORS[row.action], color)}{pad if tail else ''}{tail}".rstrip()


def field_text_lines(row: Row, common: int = 0) -> list[str]:
    # A delete lists nothing: the whole resource goes, its fields are noise in a terminal.
    if row.action is Action.DELETE:
        return []
    width = min(max([common] + [len(f.label) for f in row.fields]), LABEL_WIDTH_MAX)
    lines = []
    for f in row.fields:
        first, *more = value_lines(f, row.kind)
        lines.append(f"      {f.label.ljust(width)}  {first}".rstrip())
        lines += [f"      {' ' * width}  {line}" for line in more]
    return lines


def value_lines(line: FieldLine, kind: str) -> list[str]:
    """Usually one line; a list of sub-resources too long for one line gets one line per item; a
    long string change shows its changed words (wrapped, never cut), a long list its items."""
    if line.mode == "change" and not line.secret:
        long = long_change(line.before, line.after, line.shape, VALUE_WIDTH)
        if long is not None and long.words:
            return textwrap.wrap(inert(one_line(marked(long.words))).strip(), WRAP_WIDTH) or [""]
        if long is not None:
            return [f"- {inert(x)}" for x in long.removed] + [f"+ {inert(x)}" for x in long.added]
    text = change_text(line, kind=kind)
    if len(text) <= VALUE_WIDTH or line.secret:
        return [text]
    items = line.after if line.mode == "after" else line.before
    if line.shape == "children" and line.mode != "change" and items:
        return [w for item in items for w in wrapped(format_value(item, "child", width=None, kind=kind))]
    if line.mode != "change":
        return wrapped(text)
    # Too long for one line: each side whole, wrapped, the arrow between them.
    before, after = (format_value(v, line.shape, width=None, kind=kind) for v in (line.before, line.after))
    return [*wrapped(before), *wrapped(after, "→ ")]


def wrapped(text: str, lead: str = "") -> list[str]:
    """`text` on lines of at most WRAP_WIDTH, never cut: a reviewer approves what they can read."""
    return textwrap.wrap(text, WRAP_WIDTH, initial_indent=lead, subsequent_indent=" " * len(lead),
                         break_long_words=True, break_on_hyphens=False) or [lead]


def change_text(line: FieldLine, *, kind: str = "", width: int | None = None) -> str:
    """`before → after`, or the one side that exists, or the secret marker; each side cut at
    `width` (the one-line drift summary, whose fields the plan body shows whole), else whole."""
    if line.secret:
        return SECRET_MARKS.get(line.secret, SECRET)
    after = format_value(line.after, line.shape, width=width, kind=kind)
    before = format_value(line.before, line.shape, width=width, kind=kind)
    if line.mode == "after":
        return after
    if line.mode == "before":
        return before
    return f"{before} → {after}"


def footer_lines(view: View) -> list[str]:
    if not view.rows or not view.context.next_step or view.context.no_secrets:
        return []
    hint = "(exit code 2 with --detailed-exitcode)"
    if view.destructive:
        hint = f"(exit code 3 with --detailed-exitcode: {destructive_phrase(view)} present)"
    elif view.exit_code == 3:
        hint = "(exit code 3 with --detailed-exitcode: takeovers present)"
    target = shlex.quote(view.apply_target) if view.apply_target else "<path>"
    command = " ".join(("metorial-apply apply", *view.context.apply_flags, target))
    return ["", f"Apply with: {command}   {hint}"]


def destructive_phrase(view: View) -> str:
    deletes, replaces = view.counts["delete"], view.counts["replace"]
    if deletes and replaces:
        return "deletes and replacements"
    return "deletes" if deletes else "replacements"
