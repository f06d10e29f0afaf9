"""Saved models: one small JSON file, no pickle.

Layout (``format_version`` 1)::

    {"format": "crmjit-model", "format_version": 1, "crmjit_version": "...",
     "sha256": "<hash of the canonical payload>", "payload": {
         "model": "LogisticRegression", "params": {...constructor arguments...},
         "arrays": {"coef_": {"dtype": "float64", "shape": [1, 16], "values": [...]}, ...},
         "labels": {"classes_": {"kind": "int", "values": [0, 1]}, ...},
         "feature_names": ["x0", ...] or null}}

Floats are written with ``repr`` (exact round trip; NaN and inf as JSON's common
extensions).  Loading checks the format, its version (a newer one is an error naming both
versions), the hash (a corrupted or hand-edited file is an error) and the shapes, before it
builds the model.  Files are written to a temporary name and renamed, so an interrupted save
never leaves a half-written model under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile

import numpy as np

from ._version import __version__

FORMAT = "crmjit-model"
FORMAT_VERSION = 1

# model -> (constructor parameters, float/int/bool arrays, label arrays)
_SPEC = {
    "LogisticRegression": (("C", "fit_intercept", "tol", "max_iter"),
                           ("coef_", "intercept_", "n_iter_"), ("classes_",)),
    "BatchedLogisticRegression": (("C", "fit_intercept", "tol", "max_iter", "invalid"),
                                  ("coef_", "intercept_", "n_iter_", "converged_", "valid_"),
                                  ("classes_", "groups_")),
    "BetaGeoModel": (("penalizer_coef", "tol", "max_iter"),
                     ("_params", "_ses", "n_iter_", "converged_"), ("groups_",)),
    "GammaGammaModel": (("penalizer_coef", "tol", "max_iter"),
                        ("_params", "_ses", "n_iter_", "converged_"), ("groups_",)),
}


def _classes():
    from .batched import BatchedLogisticRegression
    from .btyd import BetaGeoModel, GammaGammaModel
    from .logistic import LogisticRegression
    return {c.__name__: c for c in (LogisticRegression, BatchedLogisticRegression,
                                    BetaGeoModel, GammaGammaModel)}


def _plain(value, name):
    """A constructor parameter as JSON (a per-segment C array as a list)."""
    if isinstance(value, (np.ndarray, list, tuple)):  # per-segment C
        return {"array": np.asarray(value, dtype=np.float64).tolist()}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save parameter {name}={value!r} of type {type(value).__name__}")


def _unplain(value):
    return np.asarray(value["array"], dtype=np.float64) if isinstance(value, dict) else value


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
    kind, values = spec.get("kind"), spec.get("values")
    dtypes = {"int": np.int64, "bool": bool, "float": np.float64, "str": object}
    if kind not in dtypes or not isinstance(values, list):
        raise ValueError(f"model file: labels {name} are malformed")
    return np.array(values, dtype=dtypes[kind])


def _payload(model):
    name = type(model).__name__
    if name not in _SPEC:
        raise TypeError(f"cannot save a {name}; crmjit saves {sorted(_SPEC)}")
    params, arrays, labels = _SPEC[name]
    extra = {}
    if name in ("BetaGeoModel", "GammaGammaModel"):
        model._check_fitted()
        extra["_ses"] = np.asarray(model.standard_errors_, dtype=np.float64).reshape(
            model._params.shape)
    elif not hasattr(model, "coef_"):
        raise ValueError(f"this {name} is not fitted yet: call fit before save")
    out = {"model": name,
           "params": {p: _plain(getattr(model, p), p) for p in params},
           "arrays": {}, "labels": {},
           "feature_names": None}
    for a in arrays:
        v = np.asarray(extra[a] if a in extra else getattr(model, a))
        out["arrays"][a] = {"dtype": v.dtype.str, "shape": list(v.shape),
                            "values": v.ravel().tolist()}
    for lab in labels:
        out["labels"][lab] = _encode_labels(getattr(model, lab, None), lab)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        out["feature_names"] = [str(v) for v in names]
    return out


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
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a crmjit model file, or it is truncated or "
                         f"corrupted ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path} is not a crmjit model file (no 'format': '{FORMAT}')")
    version = doc.get("format_version")
    if not isinstance(version, int):
        raise ValueError(f"{path}: format_version is missing or not an integer")
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in model format {version} by crmjit "
                         f"{doc.get('crmjit_version')}; this crmjit {__version__} reads "
                         f"format <= {FORMAT_VERSION}: upgrade crmjit")
    payload = doc.get("payload")
    if not isinstance(payload, dict) or _digest(payload) != doc.get("sha256"):
        raise ValueError(f"{path} is corrupted: its content does not match its sha256")
    return _build(payload, path)


def _build(payload, path):
    name = payload.get("model")
    classes = _classes()
    if name not in classes:
        raise ValueError(f"{path}: unknown model {name!r}")
    params, arrays, labels = _SPEC[name]
    try:
        model = classes[name](**{p: _unplain(payload["params"][p]) for p in params})
        for a in arrays:
            spec = payload["arrays"][a]
            v = np.array(spec["values"], dtype=np.dtype(spec["dtype"]))
            setattr(model, a, v.reshape(spec["shape"]))
        for lab in labels:
            setattr(model, lab, _decode_labels(payload["labels"].get(lab), lab))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the {name} in it is incomplete or malformed ({exc})") \
            from None
    names = payload.get("feature_names")
    if name in ("BetaGeoModel", "GammaGammaModel"):
        G = model._params.shape[0]
        if model._ses.shape != model._params.shape or (
                model.groups_ is not None and model.groups_.shape != (G,)):
            raise ValueError(f"{path}: parameter, error and label shapes disagree")
        model._set_fit(model._params, model.groups_, np.atleast_1d(model.n_iter_),
                       np.atleast_1d(model.converged_), model._ses)
        del model._ses
    else:
        model.n_features_in_ = int(model.coef_.shape[1])
        if names is not None:
            if len(names) != model.n_features_in_:
                raise ValueError(f"{path}: {len(names)} feature names for "
                                 f"{model.n_features_in_} coefficients")
            model.feature_names_in_ = np.array(names, dtype=object)
        G = model.coef_.shape[0]
        if model.intercept_.shape != (G,) or (
                name == "BatchedLogisticRegression" and model.groups_.shape != (G,)):
            raise ValueError(f"{path}: coefficient, intercept and label shapes disagree")
    return model


class Saveable:
    """Mixin: ``model.save(path)``."""

    def save(self, path):
        """Write the fitted model to ``path`` as JSON; read it back with
        :func:`crmjit.load`."""
        save(self, path)
