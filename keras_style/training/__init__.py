"""Distributed training loop shared by the style-transfer methods.

Orbit-style split (as in TF Model Garden's `official/`): a `TrainTask` says *what* to
train (model, optimizer, inputs, one step's losses, export), the `Trainer` says *how*
(distribution strategy, compiled multi-step loops, checkpoints, TensorBoard, NaN guard).

    from keras_style.training import distribute, trainer
    strategy = distribute.get_strategy("mirrored")
    result = trainer.Trainer(my_task, trainer.TrainerConfig(model_dir="runs/x"), strategy).train()
"""
