"""The storage engine: read the latest version, commit writes atomically (replace, Patch, merge)."""

from .store import Merge, PatchWrite, Replace, StashEngine, Write

__all__ = ["Merge", "PatchWrite", "Replace", "StashEngine", "Write"]
