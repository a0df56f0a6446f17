"""emotag on several processes or machines.

- :mod:`emotag.distributed.ddp`: which rank this process is, for training launched with
  ``accelerate launch`` or ``torchrun`` (DDP through the stock Trainer);
- :mod:`emotag.distributed.ray_scoring`: scoring files on a Ray cluster (``emotag[ray]``).

Nothing here is imported by the single-process paths, and importing this package imports
neither torch nor ray.
"""
