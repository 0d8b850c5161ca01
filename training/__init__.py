"""The training run behind `train.py`: batches, callbacks, distillation, the record that
`--resume` continues from, and `train()` itself."""
