"""The complete MetaNet style transfer network (Shen et al. 2018): statistics -> weights -> image."""

from __future__ import annotations

import keras

from keras_style.models.base import FunctionalModel
from keras_style.models.generated_transform_net import GeneratedTransformNet, to_transform_net
from keras_style.models.metanet import STATISTICS_DIM, MetaNet

# Names of the two sublayers; exports and training find the parts by them.
METANET_LAYER = "metanet"
GENERATED_NET_LAYER = "generated_transform_net"


@keras.saving.register_keras_serializable(package="keras_style")
class MetaNetStyleTransfer(FunctionalModel):
    """A `MetaNet` feeding a `GeneratedTransformNet`: the model a `MetaNetTask` trains.

    Called as `model([content, statistics])`:
      content: float32 RGB `(N, H, W, 3)` in [0, 255], any `H, W >= 1`;
      statistics: float32 `(1, 1920)` style statistics
        (`keras_style.metanet.style_statistics_vector`); one style per batch.
    Output: float32 `(N, H, W, 3)` in (0, 255).

    Layers: the inputs "style_statistics" and "content", then `METANET_LAYER`
    ("metanet", a `MetaNet`) and `GENERATED_NET_LAYER` ("generated_transform_net", a
    `GeneratedTransformNet`), which hold every weight. The frozen VGG that computes the
    statistics is not part of the model, so checkpoints hold only trained weights.

    Args:
        base: channels of the generated TransformNet's first conv.
        hidden_per_layer: MetaNet hidden units per generated conv.
        **kwargs: `keras.Model` arguments such as `name` and `trainable`.
    """

    config_fields = ("base", "hidden_per_layer")

    def __init__(self, base=8, hidden_per_layer=128, name="metanet_style_transfer", **kwargs):
        # The MetaNet first: under a fixed seed its initial weights are drawn first.
        metanet = MetaNet(base=base, hidden_per_layer=hidden_per_layer, name=METANET_LAYER)
        generated_net = GeneratedTransformNet(base=base, name=GENERATED_NET_LAYER)
        content = keras.Input(shape=(None, None, 3), name="content")
        statistics = keras.Input(shape=(STATISTICS_DIM,), name="style_statistics")
        outputs = generated_net([content, metanet(statistics)])
        super().__init__(inputs=[content, statistics], outputs=outputs, name=name, **kwargs)
        self.base = metanet.base
        self.hidden_per_layer = metanet.hidden_per_layer

    @property
    def metanet(self) -> MetaNet:
        """The `MetaNet` (statistics -> weight vector)."""
        return self.get_layer(METANET_LAYER)

    @property
    def generated_net(self) -> GeneratedTransformNet:
        """The `GeneratedTransformNet` ([content, weight vector] -> stylized)."""
        return self.get_layer(GENERATED_NET_LAYER)

    def weights_for(self, statistics, training=False):
        """The `(N, P)` generated weight vectors for `(N, 1920)` style statistics."""
        return self.metanet(statistics, training=training)

    def stylize_with_weights(self, content, weights, training=False):
        """`content` stylized by the generated net run with `weights` ((1, P) or (P,)):
        compute `weights_for` once per style, then stylize many images with it."""
        # Keras refuses a list mixing numpy arrays and tensors.
        content, weights = (keras.ops.convert_to_tensor(x, "float32") for x in (content, weights))
        return self.generated_net([content, weights], training=training)

    def transform_net_for(self, statistics, name=None):
        """A standalone `TransformNet` for one style's `(1, 1920)` statistics
        (`to_transform_net`): no weight input, so it exports like any fast-style model."""
        return to_transform_net(self.generated_net, self.weights_for(statistics), name=name)
