"""Quantitative evaluation of style transfer: effectiveness E, coherence C, palette distance, losses, time, memory.

    from keras_style.evaluation import EvaluationConfig, evaluate
    result = evaluate(EvaluationConfig(content="photos/", style="styles/", methods=["gatys", "starry_night"],
                                       output_dir="eval", image_size=256, iterations=300))

See `metrics` for the exact definitions of E, C and the palette distance, and `evaluate` for the
output files. Figures need matplotlib (`pip install keras-style[eval]`).
"""

from keras_style.evaluation.evaluate import EvaluationConfig, evaluate, method_label
from keras_style.evaluation.metrics import StyleMetrics, coherence, gaussian_kl, palette_distance

__all__ = ["EvaluationConfig", "StyleMetrics", "coherence", "evaluate", "gaussian_kl", "method_label",
           "palette_distance"]
