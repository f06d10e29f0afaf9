"""Saved models: one small JSON file, no pickle.

Layout (``format_version`` 2)::

    {"format": "crmjit-model", "format_version": 2, "crmjit_version": "...",
     "sha256": "<hash of the canonical payload>", "payload": {
         "model": "LogisticRegression", "params": {...constructor arguments...},
         "arrays": {"coef_": {"dtype": "<f8", "shape": [1, 16], "values": [...]}, ...},
         "labels": {"classes_": {"kind": "int", "values": [0, 1]}, ...},
         "feature_names": ["x0", ...] or null}}

The payload is the model's state (:mod:`crmjit._state`) encoded as JSON: the model class
describes and rebuilds itself (``_get_state`` / ``_from_state``, which checks every
field); this module only encodes, hashes and finds the class by its recorded name, so it
imports no model module.  Format 1 (the probabilistic models' arrays under other names)
still loads.

Floats are written with ``repr`` (exact round trip; NaN and inf as JSON's common
extensions).  Loading checks the format, its version (a newer one is an error naming both
versions), the hash (a corrupted or hand-edited file is an error) and every field, before
it builds the model.  Files are written to a temporary name and renamed, so an interrupted
save never leaves a half-written model under the final name.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile

import numpy as np

from . import _state
from ._version import __version__

FORMAT = "crmjit-model"
FORMAT_VERSION = 2
#: format 1 stored the probabilistic models' arrays under these names
_V1_NAMES = {"_params": "params", "_ses": "standard_errors", "n_iter_": "n_iter",
             "converged_": "converged"}
_V1_BTYD = ("BetaGeoModel", "GammaGammaModel")
#: the array dtypes a file may hold
_DTYPES = {"<f8": np.float64, "<i8": np.int64, "<i4": np.int32, "|b1": np.bool_}


def _plain(value, name):
    """A constructor parameter as JSON (a per-segment C array as a list, a class_weight
    dict as [label, weight] pairs)."""
    if isinstance(value, (np.ndarray, list, tuple)):  # per-segment C
        return {"array": np.asarray(value, dtype=np.float64).tolist()}
    if isinstance(value, dict):  # class_weight
        return {"mapping": [[_plain(k, name), float(v)] for k, v in value.items()]}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save parameter {name}={value!r} of type {type(value).__name__}")


def _unplain(value):
    if isinstance(value, dict):
        if set(value) == {"mapping"} and isinstance(value["mapping"], list) and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], (int, float, str))
                and isinstance(p[1], (int, float)) for p in value["mapping"]):
            return {k: v for k, v in value["mapping"]}
        if set(value) != {"array"} or not isinstance(value["array"], list):
            raise ValueError("a parameter is malformed")
        return np.asarray(value["array"], dtype=np.float64)
    return value


def _encode_labels(values, name):
    if values is None:
        return None
    a = np.asarray(values)
    if a.dtype.kind in "iu":
        return {"kind": "int", "values": [int(v) for v in a]}
    if a.dtype.kind == "b":
        return {"kind": "bool", "values": [bool(v) for v in a]}
    if a.dtype.kind == "f":
        return {"kind": "float", "values": [float(v) for v in a]}
    if all(isinstance(v, str) for v in a.tolist()):
        return {"kind": "str", "values": [str(v) for v in a]}
    raise TypeError(f"cannot save {name}: labels must be integers, floats, booleans or "
                    f"strings, got {a.dtype}")


def _decode_labels(spec, name):
    if spec is None:
        return None
    kind, values = (spec.get("kind"), spec.get("values")) if isinstance(spec, dict) else \
        (None, None)
    types = {"int": int, "bool": bool, "float": float, "str": str}
    if kind not in types or not isinstance(values, list) or not all(
            type(v) is types[kind] or (kind == "float" and type(v) is int) for v in values):
        raise ValueError(f"labels {name} are malformed")
    if kind == "int" and any(abs(v) >= 2**63 for v in values):
        raise ValueError(f"labels {name} hold integers beyond int64")
    dtypes = {"int": np.int64, "bool": bool, "float": np.float64, "str": object}
    return np.array(values, dtype=dtypes[kind])


def _decode_array(spec, name):
    """One array of the payload, checked: a known dtype, a shape of at most 2 whole
    numbers, and as many numbers as the shape holds."""
    ok = isinstance(spec, dict) and spec.get("dtype") in _DTYPES
    shape, values = (spec.get("shape"), spec.get("values")) if ok else (None, None)
    if not (ok and isinstance(shape, list) and len(shape) <= 2
            and all(type(v) is int and v >= 0 for v in shape)
            and isinstance(values, list) and len(values) == math.prod(shape)
            and all(type(v) in (int, float, bool) for v in values)):
        raise ValueError(f"array {name} is malformed")
    try:
        return np.array(values, dtype=_DTYPES[spec["dtype"]]).reshape(shape)
    except (OverflowError, ValueError, TypeError):
        raise ValueError(f"array {name} holds values out of range for {spec['dtype']}") \
            from None


def _payload(model):
    name = type(model).__name__
    if _state.model_class(name) is not type(model) or not hasattr(model, "_get_state"):
        raise TypeError(f"cannot save a {name}; crmjit saves its own models")
    state = model._get_state()  # raises if not fitted
    return {"model": name,
            "params": {p: _plain(v, p) for p, v in state["params"].items()},
            "arrays": {a: {"dtype": np.asarray(v).dtype.str, "shape": list(np.shape(v)),
                           "values": np.asarray(v).ravel().tolist()}
                       for a, v in state["arrays"].items()},
            "labels": {lab: _encode_labels(v, lab) for lab, v in state["labels"].items()},
            "feature_names": (None if state.get("feature_names") is None
                              else [str(v) for v in state["feature_names"]])}


def _digest(payload):
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def check_output(path, inputs=()):
    """Raise if writing ``path`` could destroy something: it is an existing file that is
    not a regular file (a FIFO, a device, a folder, a symbolic link), a read-only file, one
    of ``inputs``, or in a folder that does not exist or cannot be written."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: the folder {folder} does not exist")
    if os.path.lexists(path):
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a folder"
                    if stat.S_ISDIR(st.st_mode) else "not a regular file")
            raise ValueError(f"cannot write {path}: it is {kind}; crmjit only replaces "
                             f"regular files")
        if not st.st_mode & 0o222:
            raise ValueError(f"cannot write {path}: the file is read-only")
        for src in inputs:
            if os.path.exists(os.fspath(src)) and os.path.samefile(path, os.fspath(src)):
                raise ValueError(f"cannot write {path}: it is the input {src}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot write {path}: the folder {folder} is not writable")


def _stale_parts(folder):
    """Remove temporary files of crmjit writers that died (killed) in folder: their name
    holds the writer's process id.  Returns the names removed."""
    gone = []
    for name in os.listdir(folder):
        if not (name.startswith(".crmjit-") and name.endswith(".part")):
            continue
        pid = name.split("-")[1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.remove(os.path.join(folder, name))
                gone.append(name)
            except OSError:
                pass
        except PermissionError:  # alive, someone else's
            pass
    return gone


def atomic_write(path, write, inputs=()):
    """Call write(tmp_path), then rename tmp_path to path with the permissions of a new
    file under the user's umask; on any error (or signal) the temporary file is removed
    and path is left as it was.  ``check_output`` first; temporary files left by killed
    crmjit writers in the same folder are removed."""
    check_output(path, inputs)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    _stale_parts(folder)
    fd, tmp = tempfile.mkstemp(prefix=f".crmjit-{os.getpid()}-", suffix=".part", dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save(model, path):
    """Write a fitted crmjit model to ``path`` (JSON; see the module docstring)."""
    payload = _payload(model)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "crmjit_version": __version__,
           "sha256": _digest(payload), "payload": payload}

    def write(tmp):
        with open(tmp, "w") as fh:
            json.dump(doc, fh)
    atomic_write(path, write)


def load(path):
    """Read a model written by ``model.save(path)``.

    Raises ValueError for a file that is not a crmjit model, is truncated or corrupted
    (the hash does not match), or was written by a newer format version; FileNotFoundError
    when there is no file."""
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path} is not a crmjit model file, or it is truncated or "
                         f"corrupted ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path} is not a crmjit model file (no 'format': '{FORMAT}')")
    version = doc.get("format_version")
    if type(version) is not int or version < 1:
        raise ValueError(f"{path}: format_version is missing or not a whole number >= 1")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in model format {version} by crmjit "
                         f"{doc.get('crmjit_version')}; this crmjit {__version__} reads "
                         f"format <= {FORMAT_VERSION}: upgrade crmjit")
    payload = doc.get("payload")
    if not isinstance(payload, dict) or _digest(payload) != doc.get("sha256"):
        raise ValueError(f"{path} is corrupted: its content does not match its sha256")
    return _build(payload, path, version)


def _build(payload, path, version):
    """The model of a checked payload, rebuilt by its class from the decoded state."""
    name = payload.get("model")
    cls = _state.model_class(name)
    if cls is None:
        raise ValueError(f"{path}: unknown model {name!r}")
    try:
        arrays, params, labels = (payload.get(k) for k in ("arrays", "params", "labels"))
        if not all(isinstance(v, dict) for v in (arrays, params, labels)):
            raise ValueError("params, arrays or labels are missing")
        state = {"params": {k: _unplain(v) for k, v in params.items()},
                 "arrays": {k: _decode_array(v, k) for k, v in arrays.items()},
                 "labels": {k: _decode_labels(v, k) for k, v in labels.items()},
                 "feature_names": payload.get("feature_names")}
        if version == 1 and name in _V1_BTYD:  # other names; scalars when ungrouped
            state["arrays"] = {_V1_NAMES.get(k, k): np.atleast_1d(v)
                               for k, v in state["arrays"].items()}
        return cls._from_state(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the {name} in it is incomplete or malformed ({exc})") \
            from None


class Saveable:
    """Mixin: ``model.save(path)``."""

    def save(self, path):
        """Write the fitted model to ``path`` as JSON; read it back with
        :func:`crmjit.load`."""
        save(self, path)
