"""Training programs (absl), installed as `keras_style.trainers`."""
