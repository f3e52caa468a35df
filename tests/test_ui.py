"""Shared widget plumbing."""
import ipywidgets as widgets

from helpers.ui import Panel


def test_a_panel_shows_its_summary_where_no_kernel_renders_it():
    panel = Panel([widgets.HTML("x")], "Review widget: run this cell.")
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == "Review widget: run this cell."
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert len(panel.children) == 1
