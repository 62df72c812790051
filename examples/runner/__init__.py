"""Helpers of the experiment runner (configuration, ...); scripts in examples/ import them as runner.*."""
