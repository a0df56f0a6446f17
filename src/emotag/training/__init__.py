"""Training: the trainer, losses, distillation, the train pipeline."""
