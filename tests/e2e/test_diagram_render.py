"""The diagram's views rendered by a real renderer: mermaid-cli (scripts/render/, pinned in its
package-lock.json) driving chromium, as `make diagram-images` does. A view Mermaid cannot parse
fails here, and so does one too large to read on a screen."""

from __future__ import annotations

import re
import struct

import pytest

from scripts import diagram

# A view a person takes in at a glance fits a large (4K) screen at Mermaid's own scale.
MAX_WIDTH, MAX_HEIGHT = 2800, 1400


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", path
    return struct.unpack(">II", header[16:24])


def svg_size(path) -> tuple[float, float]:
    root = re.search(r"<svg\b[^>]*>", path.read_text()).group(0)
    _, _, width, height = map(float, re.search(r'viewBox="([^"]+)"', root).group(1).split())
    return width, height


@pytest.fixture(scope="module")
def rendered(stacks, tmp_path_factory):
    into = tmp_path_factory.mktemp("diagram")
    return diagram.render(stacks, into)


def test_every_view_renders_to_svg_and_png(rendered, stacks):
    views = diagram.views(stacks)
    assert len(rendered) == 2 * len(views)
    assert sorted({p.suffix for p in rendered}) == [".png", ".svg"]


def test_every_view_fits_a_screen_and_is_not_empty(rendered):
    for svg in (p for p in rendered if p.suffix == ".svg"):
        width, height = svg_size(svg)
        assert width <= MAX_WIDTH and height <= MAX_HEIGHT, (svg.name, width, height)
        # Mermaid drew the boxes: every view has a few and text in them.
        assert svg.read_text().count('class="node') >= 5, svg.name
        png = svg.with_suffix(".png")
        png_width, png_height = png_size(png)
        # The PNG is the SVG at scale 1 (the page is wider than any view).
        assert abs(png_width - width) <= 2 and abs(png_height - height) <= 2, png.name
        assert png.stat().st_size > 10_000, png.name


def test_the_environment_placeholder_survives_rendering(rendered):
    # "<env>" would be dropped by the browser as an unknown tag; the views escape it.
    platform = next(p for p in rendered if p.name.endswith("platform-env.svg"))
    assert "&lt;env&gt;-platform" in platform.read_text()


def test_a_view_mermaid_cannot_parse_fails_with_its_message(stacks, tmp_path, monkeypatch):
    broken = diagram.View("Broken", "", ['  a["a"] --> --> b'])
    monkeypatch.setattr(diagram, "views", lambda _stacks: [broken])
    with pytest.raises(RuntimeError, match=r"could not render Broken: .*(Parse|Lexical) error"):
        diagram.render(stacks, tmp_path)
    assert not list(tmp_path.glob("*.svg"))
