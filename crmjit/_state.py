"""A fitted model's state, and the registry that finds a model class by its name.

Each model class describes its fitted state (``_get_state``) and rebuilds itself from one
(``_from_state``), checking every field; :mod:`crmjit.persist` only encodes states as JSON
and finds classes here, so it imports no model module.  A state is a dict::

    {"params": {constructor arguments}, "arrays": {name: ndarray},
     "labels": {name: ndarray or None}, "feature_names": [str, ...] or None}

The helpers below read one field of a state and raise a ValueError naming it when it is
missing or not what the model needs (a hand-edited file, say).
"""

from __future__ import annotations

import numpy as np

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: make ``cls`` loadable by its name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def model_class(name):
    """The registered class called ``name``, or None.  A public crmjit class whose module
    is not imported yet is imported through the package's lazy names (which registers
    it)."""
    if name not in _REGISTRY and isinstance(name, str) and name.isidentifier():
        import crmjit
        getattr(crmjit, name, None)
    return _REGISTRY.get(name)


def array(state, name, kinds, shape, *, finite=False, positive=False):
    """state["arrays"][name] as an array of one of the dtype ``kinds`` ("f", "iu", "b")
    and of ``shape`` (None: any length in that axis); with ``finite`` / ``positive``
    every value must be finite / > 0."""
    a = state["arrays"].get(name)
    if not isinstance(a, np.ndarray) or a.dtype.kind not in kinds:
        raise ValueError(f"{name} is missing or of the wrong type")
    if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape)):
        want = tuple("any" if s is None else s for s in shape)
        raise ValueError(f"{name} has shape {a.shape}, expected {want}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or inf")
    if positive and not (a > 0).all():
        raise ValueError(f"{name} must be > 0, got {a.ravel()[~(a.ravel() > 0)][:5].tolist()}")
    return a


def labels(state, name, count=None, optional=False):
    """state["labels"][name]: distinct labels (``count`` of them when given); None allowed
    with ``optional``."""
    a = state["labels"].get(name)
    if a is None:
        if optional:
            return None
        raise ValueError(f"{name} is missing")
    if a.ndim != 1 or (count is not None and a.shape[0] != count):
        raise ValueError(f"{name} must hold {count or 'its'} labels, got {a.shape[0]}")
    if len(set(a.tolist())) != a.shape[0]:
        raise ValueError(f"{name} holds repeated labels")
    return a


def feature_names(state, d):
    """The feature names (d strings) or None."""
    names = state.get("feature_names")
    if names is None:
        return None
    if not (isinstance(names, list) and len(names) == d
            and all(isinstance(v, str) for v in names)):
        raise ValueError(f"feature_names must be {d} strings")
    return np.array(names, dtype=object)
