"""The storage engine: read the latest version, commit writes atomically (replace, Patch, merge)."""

from .store import KINDS, Merge, PatchWrite, Replace, Restore, StashEngine, Write

__all__ = ["KINDS", "Merge", "PatchWrite", "Replace", "Restore", "StashEngine", "Write"]
