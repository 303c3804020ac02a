"""Code that runs *inside* the verification kernels (written to a scratch directory as a module).

It only uses the standard library and whatever the notebook already imported (numpy, pandas,
matplotlib are looked up in ``sys.modules``, never imported), so it cannot change what the notebook
does. :func:`dump` fingerprints every live value of the user namespace at the end of a run;
:func:`capture` wraps an extracted function to record its inputs and outputs at the call boundary.
"""

from __future__ import annotations

PROBE_MODULE = "_nbhygiene_probe"

SOURCE = r'''
import functools
import hashlib
import json
import os
import pickle
import re
import sys
import types

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_SKIP = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_SCALARS = (bool, int, float, complex, str, bytes, type(None))


def _digest(data):
    return hashlib.sha256(data).hexdigest()[:24]


def _pickled(value):
    return _digest(pickle.dumps(value, protocol=4))


def fingerprint(value, local_modules=(), depth=0):
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    kind = type(value)
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type, functools.partial)):
        return ["callable"]
    if isinstance(value, _SCALARS):
        text = repr(value)
        return ["value", kind.__name__, text if len(text) <= 2000 else _digest(text.encode("utf-8", "replace"))]
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            try:
                return ["ndarray", str(value.dtype), list(value.shape), _pickled(value)]
            except Exception:
                return ["ndarray", str(value.dtype), list(value.shape), "?"]
        return ["ndarray", str(value.dtype), list(value.shape), _digest(np.ascontiguousarray(value).tobytes())]
    if np is not None and isinstance(value, np.generic):
        return ["value", kind.__name__, repr(value.item())]
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        try:
            hashed = pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()
            content = _digest(hashed)
        except Exception:
            try:
                content = _pickled(value)
            except Exception:
                content = "?"
        shape = list(value.shape)
        if isinstance(value, pd.DataFrame):
            layout = [[str(c) for c in value.columns], [str(t) for t in value.dtypes]]
        else:
            layout = [str(getattr(value, "name", "")), str(value.dtype)]
        index = getattr(value, "index", value)
        return [kind.__name__, shape, layout, content, type(index).__name__, str(getattr(index, "dtype", ""))]
    if depth < 3 and isinstance(value, (list, tuple)):
        return [kind.__name__, len(value), [fingerprint(v, local_modules, depth + 1) for v in value[:200]]]
    if depth < 3 and isinstance(value, dict):
        items = list(value.items())[:200]
        return ["dict", len(value), [[repr(k)[:200], fingerprint(v, local_modules, depth + 1)] for k, v in items]]
    if isinstance(value, (set, frozenset)):
        try:
            return [kind.__name__, sorted(repr(v) for v in value)[:200]]
        except Exception:
            return [kind.__name__, len(value)]
    module = getattr(kind, "__module__", "")
    if depth < 3 and (module == "__main__" or module in local_modules) and hasattr(value, "__dict__"):
        return ["object", kind.__qualname__, fingerprint(dict(vars(value)), local_modules, depth + 1)]
    try:
        return ["pickle", kind.__qualname__, _pickled(value)]
    except Exception:
        pass
    try:
        return ["repr", kind.__qualname__, _ADDRESS.sub("0x?", repr(value))[:2000]]
    except Exception:
        return ["opaque", kind.__qualname__]


def _figures():
    plt = sys.modules.get("matplotlib.pyplot")
    np = sys.modules.get("numpy")
    if plt is None or np is None:
        return []
    result = []
    for number in plt.get_fignums():
        try:
            figure = plt.figure(number)
            figure.canvas.draw()
            pixels = np.asarray(figure.canvas.buffer_rgba())
            result.append([number, list(pixels.shape), _digest(pixels.tobytes())])
        except Exception as exc:
            result.append([number, "?", type(exc).__name__])
    return result


def dump(namespace, path, local_modules=()):
    names = sorted(n for n in list(namespace) if not n.startswith("_") and n not in _SKIP)
    values = {}
    mutable_ids = {}
    for name in names:
        value = namespace[name]
        try:
            values[name] = fingerprint(value, tuple(local_modules))
        except Exception as exc:
            values[name] = ["opaque", type(exc).__name__]
        if not isinstance(value, _SCALARS + (types.ModuleType, types.FunctionType, type)):
            mutable_ids.setdefault(id(value), []).append(name)
    aliases = {name: group for group in mutable_ids.values() if len(group) > 1 for name in group}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"values": values, "aliases": aliases, "figures": _figures()}, handle)


CAPTURE_LIMIT = 50 * 2**20


def _rough_size(value, depth=0):
    """Bytes a value holds, roughly (arrays and frames by their buffers), without copying it."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    usage = getattr(value, "memory_usage", None)
    if callable(usage) and type(value).__module__.startswith("pandas"):
        try:
            total = usage(deep=False)
            return int(getattr(total, "sum", lambda: total)())
        except Exception:
            return 0
    if depth < 2 and isinstance(value, (list, tuple, set, frozenset)):
        return sum(_rough_size(v, depth + 1) for v in list(value)[:10000])
    if depth < 2 and isinstance(value, dict):
        return sum(_rough_size(v, depth + 1) for v in list(value.values())[:10000])
    return sys.getsizeof(value, 0)


def capture(func, path):
    """Record the first call of ``func``: pickled arguments before, result and arguments after."""

    @functools.wraps(func)
    def wrapper(*args):
        record = {}
        size = sum(_rough_size(a) for a in args)
        if size > CAPTURE_LIMIT:
            record["error"] = "its arguments take about %d MB (the limit for a test case is %d MB)" % (
                size // 2**20,
                CAPTURE_LIMIT // 2**20,
            )
        else:
            try:
                record["args"] = pickle.dumps(args, protocol=4)
            except Exception as exc:
                record["error"] = "its arguments cannot be pickled (%s: %s)" % (type(exc).__name__, exc)
        result = func(*args)
        if "error" not in record:
            try:
                record["result"] = pickle.dumps(result, protocol=4)
                record["after"] = pickle.dumps(args, protocol=4)
            except Exception as exc:
                record = {"error": "its results cannot be pickled (%s: %s)" % (type(exc).__name__, exc)}
        if not os.path.exists(path):
            with open(path, "wb") as handle:
                pickle.dump(record, handle, protocol=4)
        return result

    return wrapper
'''
