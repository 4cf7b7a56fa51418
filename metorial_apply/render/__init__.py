"""Renderers of a plan: text for terminals, Markdown for pull requests, JSON for machines.

All three read one display model (`view.build_view`), so they agree on order, counts and
redaction. Pure: no I/O, clock or environment; colour is a parameter.
"""

from metorial_apply.render.json import render_json
from metorial_apply.render.markdown import render_markdown
from metorial_apply.render.text import render_text
from metorial_apply.render.view import RenderContext, RenderStats, View, build_view

__all__ = ["RenderContext", "RenderStats", "View", "build_view", "render_json", "render_markdown", "render_text"]
