"""Writing a notebook in short cells: ``add_to_class`` lets one class be built across several cells.

Borrowed from Dive into Deep Learning's ``d2l.add_to_class``: a long class is introduced with its
constructor in one cell, and each method arrives in the cell whose text explains it::

    class Tokenizer:
        def __init__(self, merges): ...

    @utils.add_to_class(Tokenizer)
    def encode(self, text): ...

First used in ``02_backprop/04_project_autodiff_engine.ipynb``.
"""
from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def add_to_class(cls: type) -> Callable[[F], F]:
    """Decorator: attach the decorated function to ``cls`` under its own name, and return it."""
    if not isinstance(cls, type):
        raise TypeError(f"add_to_class needs a class, got {type(cls).__name__}")

    def attach(fn: F) -> F:
        name = getattr(fn, "__name__", None)
        if not name or name == "<lambda>":
            raise ValueError("add_to_class: give the method a name with def")
        setattr(cls, name, fn)
        return fn

    return attach
