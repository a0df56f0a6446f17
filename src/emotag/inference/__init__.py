"""Inference: the predictor, explanations, batch and Ray scoring, export."""
