"""Widget plumbing shared by the notebooks' interactive cells."""
from __future__ import annotations

import ipywidgets as widgets


class Panel(widgets.VBox):
    """A VBox that a notebook opened without a kernel shows as one sentence, not as widget internals."""

    def __init__(self, children: list, summary: str, **kwargs):
        super().__init__(children, **kwargs)
        self.summary = summary

    def __repr__(self) -> str:
        return self.summary
