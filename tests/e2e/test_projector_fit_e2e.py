"""Projector mode on a school projector's 1280 × 720 with the sidebar open: on every page, in both
languages, nothing in the main area or the sidebar is cut or runs past its right edge (labels,
page titles, widget values, code, formulas), and no chart's legend, title, axis title or note runs
out of the chart."""

import pytest

from tests.e2e.conftest import screenshot, wait_for_app

# Each page by its path; the MNIST page also with its convolutional network (inside the CNN).
PAGES = [
    "",
    "activations",
    "optimizers",
    "schedules",
    "initialization",
    "mnist",
    "mnist?mn_arch=cnn",
]

# Elements cut by their own box (hidden overflow, an ellipsis) or reaching past the right edge of
# the main area or the sidebar, reported once at the outermost element; inside a formula only the formula's box
# counts (KaTeX's own spans clip by design); a Material icon's ligature text is always wider
# than the glyph it draws, and a screen reader's 1 px label is hidden on purpose.
PROBLEMS = r"""
() => {
  const found = [];
  for (const area of document.querySelectorAll("[data-testid='stMain'], [data-testid='stSidebar']")) {
  const right = area.getBoundingClientRect().right + 2;
  for (const el of area.querySelectorAll("*")) {
    if (el.closest(".katex") && !el.matches(".katex-display, .katex-display > .katex")) continue;
    if (el.closest("[data-testid='stIconMaterial']")) continue;
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    if (el.getBoundingClientRect().width <= 1) continue;
    const text = Array.from((el.innerText || el.textContent || "").trim()).slice(0, 50).join("");
    if (!text) continue;
    const clips = ["hidden", "clip"].includes(style.overflowX) || style.textOverflow === "ellipsis";
    if (clips && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 2) {
      found.push(`cut: ${el.tagName} "${text}"`);
    }
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > right && el.parentElement.getBoundingClientRect().right <= right) {
      found.push(`past the right edge: ${el.tagName} "${text}"`);
    }
  }
  }
  for (const chart of document.querySelectorAll("[data-testid='stMain'] .js-plotly-plot")) {
    const svg = chart.querySelector("svg.main-svg").getBoundingClientRect();
    for (const part of chart.querySelectorAll(
      "g.legend, g.g-gtitle, g.g-xtitle, g.g-ytitle, g.infolayer g.annotation"
    )) {
      const b = part.getBoundingClientRect();
      if (b.width && (b.left < svg.left - 1 || b.right > svg.right + 1 ||
                      b.top < svg.top - 1 || b.bottom > svg.bottom + 1)) {
        found.push(`chart part outside its chart: "${(part.textContent || "").slice(0, 50)}"`);
      }
    }
  }
  return found;
}
"""


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.replace("?", "-") or "home")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_fits_a_1280_projector_with_the_sidebar_open(page, app_url, lang, path):
    page.set_viewport_size({"width": 1280, "height": 720})
    query = f"lang={lang}&projector=1"
    page.goto(f"{app_url}/{path}{'&' if '?' in path else '?'}{query}")
    wait_for_app(page, timeout=60_000)
    assert page.get_by_test_id("stSidebar").is_visible()
    # Scroll through the page so that every chart is drawn at its final size.
    height = page.evaluate("document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    for top in range(0, height + 600, 600):
        page.evaluate(f"document.querySelector(\"[data-testid='stMain']\").scrollTo(0, {top})")
        page.wait_for_timeout(150)
    page.wait_for_timeout(1_000)
    found = page.evaluate(PROBLEMS)
    if found:
        screenshot(page, f"projector-fit-{(path or 'home').replace('?', '-')}-{lang}")
    assert not found, found
