"""Engines that run jobs: ``local`` (processes on this machine, the embedded default) and, later, Slurm."""
