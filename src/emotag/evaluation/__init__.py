"""Evaluation: metrics, thresholds, calibration, reports."""
