"""The first panel of every explanation figure names what it shows: the model input, at
the size the model saw (a photo is squashed to it), in the window and in exported PNGs."""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from engine.jobs import Explanation
from engine.render import draw_class, draw_comparison, new_figure, save_class_png


def _explanation(method: str) -> Explanation:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)  # 40 wide, 30 high: not square
    return Explanation(method=method, image=image, maps=rng.normal(size=(1, 30, 40)).astype(np.float32),
                       classes=[0], class_names=["cat"], probabilities=[0.9], params={}, timings={},
                       versions={}, model="test")


def _first_title(draw, *args) -> str:
    figure = new_figure(9, 4)
    FigureCanvasAgg(figure)
    draw(figure, *args)
    return figure.axes[0].get_title()


def test_the_input_panel_says_it_is_the_model_input_and_its_size():
    explanations = [_explanation("shap"), _explanation("ig")]
    assert _first_title(draw_class, explanations, 0) == "input 40×30"
    assert _first_title(draw_comparison, explanations, 0) == "input 40×30"


def test_the_exported_class_png_is_drawn_by_the_same_code(tmp_path, monkeypatch):
    import engine.render as render

    titles = []
    real = render.draw_class

    def recording(figure, *args, **kwargs):
        real(figure, *args, **kwargs)
        titles.append(figure.axes[0].get_title())

    monkeypatch.setattr(render, "draw_class", recording)
    save_class_png(tmp_path / "x.png", [_explanation("shap")], 0)
    assert titles == ["input 40×30"] and Image.open(tmp_path / "x.png").size[0] > 100
