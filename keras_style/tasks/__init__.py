"""Training tasks (`keras_style.training.task.TrainTask` subclasses), one method per module."""
