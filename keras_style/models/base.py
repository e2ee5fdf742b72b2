"""`FunctionalModel`: the one place a functional model's config is written (keras-hub's
`Backbone` pattern)."""

from __future__ import annotations

import keras


class FunctionalModel(keras.Model):
    """A `keras.Model` subclass whose constructor builds a functional graph, serialised as
    its constructor arguments rather than as that graph.

    Subclasses name their constructor arguments in `config_fields` and keep each one in an
    attribute: the same name, or `(argument, attribute)` where a Keras property takes the
    name (e.g. `weights`). `get_config` returns them with `name` and `trainable`, and
    `from_config` calls the constructor, so a round trip gives the subclass back (the
    functional default would return a plain `keras.Model` of the layer graph, which the
    constructor cannot take).
    """

    config_fields: tuple = ()

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        for field in self.config_fields:
            argument, attribute = (field, field) if isinstance(field, str) else field
            config[argument] = getattr(self, attribute)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
