"""scansnap from Python: train 1-layer transformers and watch how they learn (Tian et al.,
"Scan and Snap"), with the results as numpy arrays.

    import scansnap
    r = scansnap.train()                          # the paper's Figure-4 run
    r.metrics["entropy"][-1]                      # 2.7411...
    r.c_n.shape                                   # (save steps, classes, tokens)
    t = scansnap.theory()                         # the same run in the T -> infinity limit
    scansnap.compare(r, t)["max"]
    s = scansnap.sweep({"opt.lr_y_multi_on_z": [1, 2, 5, 10]}, jobs=2)
    s.columns["entropy_distinct"]

Configurations are given as on the command line: a YAML path, a dict ({"opt.lr_z": 2} or nested
{"opt": {"lr_z": 2}}), and keyword overrides with '__' for '.' (opt__lr_z=2); the paper's names
are aliases (L=64, dataset2__num_last=3). Every call writes a normal run directory (key `out`,
default runs/<command>-<UTC time>) that the command line reads too, and load_run reads any
run directory back.

Errors are exceptions carrying the library's one-line message: InputError (a ValueError: a bad
key names the nearest valid one), RunError (a RuntimeError), DivergedError (a RunError).
Ctrl-C stops a run at the next step boundary with a checkpoint, then raises KeyboardInterrupt
(resume(dir) continues it). progress=: None draws a bar on stderr when it is a terminal, False
nothing, or a function f(step, total, loss, seconds) that may return True to stop the run.

The library is ctypes over libscansnap.so (see scansnap._lib for where it is looked for);
docs/python.md has the whole tour."""
import numbers
import os
import threading
from collections.abc import Mapping

from . import _lib, files, progress as _progress

try:
    import numpy as np
except ImportError:  # results come as array.array / memoryview instead (see arrays())
    np = None

__all__ = ["train", "theory", "resume", "verify", "compare", "sweep", "load_run", "load_sweep", "open_run", "keys",
           "version", "Run", "Sweep", "Claim", "ScansnapError", "InputError", "RunError", "DivergedError"]

OK, ERUN, EINPUT, EDIVERGE, ESTOP = 0, 1, 2, 3, 4


class ScansnapError(Exception):
    """An error of the library: .code (SS_E*), .message (its one line), .dir (the run, if any)."""

    def __init__(self, message, code=ERUN, dir=None):
        super().__init__(message)
        self.message, self.code, self.dir = message, code, dir


class InputError(ScansnapError, ValueError):
    """Bad input (a key, a value, a file): nothing was created."""


class RunError(ScansnapError, RuntimeError):
    """The run failed (I/O, a worker that died)."""


class DivergedError(RunError):
    """The run diverged (NaN/Inf or a runaway loss); its rows so far and last checkpoint are kept."""


def _raise(code, message, dir=None):
    cls = InputError if code == EINPUT else DivergedError if code == EDIVERGE else RunError
    raise cls(message, code, dir)


def version():
    """The library's version ("0.1.0")."""
    return _lib.text(_lib.lib().ss_version())


class _Err:
    """An ss_err for one call."""

    def __init__(self):
        self.L = _lib.lib()
        self.p = self.L.ss_err_new()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.L.ss_err_free(self.p)

    def check(self, rc, dir=None):
        if rc != OK:
            _raise(rc, _lib.text(self.L.ss_err_message(self.p)), dir)


# ---- values and configurations --------------------------------------------------------------

def _text(v):
    """A Python value as the text the library parses."""
    if isinstance(v, (bool,)) or (np is not None and isinstance(v, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, (str, os.PathLike)):
        return os.fspath(v)
    if isinstance(v, (list, tuple, range)):
        return ",".join(_text(x) for x in v)
    raise TypeError("scansnap: cannot use a %s as a configuration value (%r)" % (type(v).__name__, v))


def _flatten(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, Mapping):
            yield from _flatten(v, prefix + str(k) + ".")
        else:
            yield prefix + str(k), v


def _key(k):
    return k.replace("__", ".")


def _items(config, overrides):
    """(kind, key, value) from config (None, a YAML path or a dict) and the keyword overrides."""
    if config is None:
        pass
    elif isinstance(config, (str, os.PathLike)):
        yield "yaml", os.fspath(config), None
    elif isinstance(config, Mapping):
        for k, v in _flatten(config):
            yield "key", k, v
    else:
        raise TypeError("scansnap: config must be a YAML path or a dict, not %s" % type(config).__name__)
    for k, v in overrides.items():
        yield "key", _key(k), v


class _Config:
    """An ss_config built from Python values (freed on exit)."""

    def __init__(self, config, overrides):
        self.L = _lib.lib()
        self.p = self.L.ss_config_new()
        try:
            with _Err() as e:
                for kind, k, v in _items(config, overrides):
                    if kind == "yaml":
                        e.check(self.L.ss_config_load_yaml(self.p, k.encode(), e.p))
                    else:
                        e.check(self.L.ss_config_set(self.p, k.encode(), _text(v).encode(), e.p))
        except BaseException:
            self.L.ss_config_free(self.p)
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.L.ss_config_free(self.p)


def keys():
    """Every configuration key: a list of dicts name, type, default, help."""
    L = _lib.lib()
    return [{"name": _lib.text(L.ss_config_key_name(i)), "type": _lib.text(L.ss_config_key_type(i)),
             "default": _lib.text(L.ss_config_key_default(i)), "help": _lib.text(L.ss_config_key_help(i))}
            for i in range(L.ss_config_nkeys())]


def _config_dict(cfgp):
    """A configuration handle as {key: value}, typed by the key's type."""
    if not cfgp:
        return None
    L = _lib.lib()
    buf = (_lib.ctypes.c_char * 4096)()
    out = {}
    with _Err() as e:
        for i in range(L.ss_config_nkeys()):
            name, kind = L.ss_config_key_name(i), _lib.text(L.ss_config_key_type(i))
            e.check(L.ss_config_get(cfgp, name, buf, len(buf), e.p))
            v = _lib.text(buf.value)
            out[_lib.text(name)] = {"int": int, "float": float, "bool": lambda s: s == "true"}.get(kind, str)(v)
    return out


# ---- arrays -----------------------------------------------------------------------------------

def arrays():
    """Whether results are numpy arrays (numpy installed) or array.array / memoryview."""
    return np is not None


def _copy(ptr, shape, ctype, fmt):
    """A copy of the library's array at ptr with shape, as numpy (or a memoryview of that shape)."""
    n = 1
    for s in shape:
        n *= s
    if not ptr or n == 0:
        if np is not None:
            return np.zeros(shape, dtype=np.dtype(fmt))
        return memoryview(bytearray()).cast("B").cast(fmt[-1])
    raw = _lib.ctypes.cast(ptr, _lib.ctypes.POINTER(ctype * n)).contents
    if np is not None:
        return np.ctypeslib.as_array(raw).reshape(shape).copy()
    import array
    a = array.array({"f8": "d", "f4": "f", "i8": "q", "i4": "i"}[fmt[1:]], bytes(raw))
    return memoryview(a) if len(shape) == 1 else memoryview(a).cast("B").cast(a.typecode, list(shape))


def _dims(fn, handle, k):
    d = [_lib.c_int64() for _ in range(k)]
    ptr = fn(handle, *[_lib.ctypes.byref(x) for x in d])
    return ptr, [x.value for x in d]


# ---- runs ---------------------------------------------------------------------------------------

class Claim:
    """One claim of verify: id, name, status ("PASS", "FAIL", "SKIP"), measured, why, numbers."""

    def __init__(self, id, name, status, measured, why, numbers):
        self.id, self.name, self.status, self.measured, self.why, self.numbers = id, name, status, measured, why, numbers

    @property
    def passed(self):
        return self.status == "PASS"

    def __repr__(self):
        return "Claim(%d %r: %s, %s)" % (self.id, self.name, self.status, self.measured)


class Claims(list):
    """The claims of a verify call (a list of Claim), with .dir and .all_passed."""

    dir = None

    @property
    def all_passed(self):
        return all(c.status != "FAIL" for c in self)


class Run:
    """A run's results. dir, state (run.json's status), config (dict), columns (metrics.csv's
    names) and metrics (name -> array), steps and c_n [steps x classes x tokens], classes (query
    and next token of each class), prob [classes x tokens] = P(l|n), attention [steps x heads x T
    x T] with attention_steps, attention_tokens, attention_words (language-model runs), claims
    (verify). What a run does not have is None (or empty)."""

    def __init__(self):
        self.dir = self.state = self.config = None
        self.columns, self.metrics = [], {}
        self.steps = self.c_n = self.prob = None
        self.classes = []
        self.attention = self.attention_steps = self.attention_tokens = None
        self.attention_words = []
        self.claims = Claims()

    def __repr__(self):
        shape = tuple(self.c_n.shape) if self.c_n is not None else None
        return "Run(%r, state=%r, rows=%d, c_n=%s%s)" % (self.dir, self.state, len(self.metrics.get("step", ())),
                                                       shape, ", attention" if self.attention is not None else "")

    @classmethod
    def _from_handle(cls, h):
        L, r = _lib.lib(), cls()
        r.dir, r.state = _lib.text(L.ss_run_path(h)), _lib.text(L.ss_run_state(h))
        r.config = _config_dict(L.ss_run_config(h))
        n = L.ss_run_nrows(h)
        r.columns = [_lib.text(L.ss_run_column_name(h, i)) for i in range(L.ss_run_ncolumns(h))]
        for c in r.columns:
            r.metrics[c] = _copy(L.ss_run_column(h, c.encode(), None), [n], _lib.c_double, "<f8")
        ptr, shape = _dims(L.ss_run_cn, h, 3)
        if ptr:
            r.c_n = _copy(ptr, shape, _lib.c_double, "<f8")
            ptr, (S,) = _dims(L.ss_run_steps, h, 1)
            r.steps = _copy(ptr, [S], _lib.c_int64, "<i8")
            q, (N,) = _dims(L.ss_run_class_query, h, 1)
            x, _ = _dims(L.ss_run_class_next, h, 1)
            q, x = _copy(q, [N], _lib.c_int32, "<i4"), _copy(x, [N], _lib.c_int32, "<i4")
            r.classes = [{"query": int(q[i]), "next": int(x[i])} for i in range(N)]
            ptr, shape = _dims(L.ss_run_class_prob, h, 2)
            r.prob = _copy(ptr, shape, _lib.c_double, "<f8")
        ptr, shape = _dims(L.ss_run_attention, h, 3)
        if ptr:
            S, H, T = shape
            r.attention = _copy(ptr, [S, H, T, T], _lib.c_float, "<f4")
            ptr, (S,) = _dims(L.ss_run_attention_steps, h, 1)
            r.attention_steps = _copy(ptr, [S], _lib.c_int64, "<i8")
            ptr, (T,) = _dims(L.ss_run_attention_tokens, h, 1)
            r.attention_tokens = _copy(ptr, [T], _lib.c_int32, "<i4")
            r.attention_words = [_lib.text(L.ss_run_attention_word(h, i)) for i in range(T)]
            r.attention_words = r.attention_words if all(w is not None for w in r.attention_words) else []
        for i in range(L.ss_run_nclaims(h)):
            nums = {_lib.text(L.ss_run_claim_number_name(h, i, k)): L.ss_run_claim_number(h, i, k)
                    for k in range(L.ss_run_claim_nnumbers(h, i))}
            r.claims.append(Claim(L.ss_run_claim_id(h, i), _lib.text(L.ss_run_claim_name(h, i)),
                                  _lib.text(L.ss_run_claim_status(h, i)), _lib.text(L.ss_run_claim_measured(h, i)),
                                  _lib.text(L.ss_run_claim_why(h, i)), nums))
        r.claims.dir = r.dir
        return r


def _progress_fn(progress, label):
    """(function for the library or None, bar to close or None)."""
    if progress is False:
        return None, None
    if progress is None or progress is True:
        import sys
        if progress is None and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
            return None, None
        bar = _progress.Bar(label)
        return bar, bar
    if not callable(progress):
        raise TypeError("scansnap: progress must be None, True, False or a function")
    return progress, None


def _blocking(call, stop):
    """Runs call() (a library call that blocks) so that Ctrl-C stops it: in the main thread, the
    call runs on a helper thread while this one waits, and a KeyboardInterrupt here asks the run
    to stop at its next step boundary (stop()), then waits for it. Returns (rc, interrupted)."""
    if threading.current_thread() is not threading.main_thread():
        return call(), False
    box, done = {}, threading.Event()

    def target():
        try:
            box["rc"] = call()
        except BaseException as e:  # ctypes argument errors: hand them to the caller
            box["error"] = e
        finally:
            done.set()

    # waiting on an Event, not on Thread.join: a join interrupted by Ctrl-C can take the
    # thread for finished while it still runs (Python 3.11, bpo-45274)
    t = threading.Thread(target=target, name="scansnap-call", daemon=True)
    interrupted = False
    t.start()
    while not done.is_set():
        try:
            done.wait(0.25)
        except KeyboardInterrupt:
            interrupted = True
            stop()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["rc"], interrupted


def _execute(label, progress, start):
    """Makes a run handle, runs start(L, handle, err) with the progress callback and Ctrl-C
    handling, and turns the outcome into a Run (or an exception)."""
    L = _lib.lib()
    h = L.ss_run_new()
    fn, bar = _progress_fn(progress, label)
    failure = []

    def bridge(user, step, total, loss, seconds):
        try:
            return 1 if fn(step, total, loss, seconds) else 0
        except BaseException as e:  # an exception in the callback stops the run, then is raised
            failure.append(e)
            return 1

    cb = _lib.RUN_CALLBACK(bridge) if fn else _lib.RUN_CALLBACK()
    try:
        L.ss_run_set_callback(h, cb, None)
        with _Err() as e:
            rc, interrupted = _blocking(lambda: start(L, h, e.p), lambda: L.ss_run_request_stop(h))
            if bar:
                bar.close()
            if failure:
                raise failure[0]
            run = Run._from_handle(h) if rc in (OK, ESTOP, EDIVERGE) else None
            if rc == ESTOP and interrupted:
                raise KeyboardInterrupt("scansnap: %s (scansnap.resume(%r) continues it)"
                                        % (_lib.text(L.ss_err_message(e.p)), run.dir if run else None))
            if rc != ESTOP:
                e.check(rc, _lib.text(L.ss_run_path(h)) or None)
            return run
    finally:
        L.ss_run_free(h)


def train(config=None, progress=None, **overrides):
    """A training run (`scansnap train`): config = None (the Figure-4 defaults), a YAML path or a
    dict of keys; overrides as keywords (opt__lr_z=2, out="runs/x"). Returns the Run; a run
    stopped by the progress function returns with state "interrupted"."""
    with _Config(config, overrides) as c:
        return _execute("train", progress, lambda L, h, e: L.ss_run_train(h, c.p, e))


def theory(config=None, progress=None, **overrides):
    """The population (T -> infinity) dynamics of the same configuration (`scansnap theory`)."""
    with _Config(config, overrides) as c:
        return _execute("theory", progress, lambda L, h, e: L.ss_run_theory(h, c.p, e))


def resume(dir, niter=None, threads=None, progress=None):
    """Continues an interrupted run from its checkpoint (`scansnap train --resume DIR`); niter
    extends it. A run already complete is only read."""
    over = [("niter=%s" % _text(niter)).encode()] if niter is not None else []
    over += [("threads=%s" % _text(threads)).encode()] if threads is not None else []
    arr = (_lib.c_char_p * max(len(over), 1))(*over)
    path = os.fspath(dir).encode()
    return _execute("resume", progress, lambda L, h, e: L.ss_run_resume(h, path, arr, len(over), e))


def verify(config=None, corpus=None, **overrides):
    """The paper's claims on a configuration (`scansnap verify`): a list of Claim (status PASS,
    FAIL or SKIP, what was measured, the numbers), with .dir and .all_passed. Claim 4 trains on
    corpus (a WikiText folder or a text file; default data.path) or is a SKIP without one."""
    cp = os.fspath(corpus).encode() if corpus is not None else None
    with _Config(config, overrides) as c:
        run = _execute("verify", False, lambda L, h, e: L.ss_run_verify(h, c.p, cp, e))
    return run.claims


def open_run(dir):
    """A run directory read through the library (the same arrays load_run gives)."""
    return _execute("open", False, lambda L, h, e: L.ss_run_open(h, os.fspath(dir).encode(), e))


def _dir_of(x):
    return x.dir if isinstance(x, (Run, Sweep)) else os.fspath(x)


def compare(a, b, until=None):
    """How far two runs are apart (`scansnap compare`), over the save steps they share (up to
    step `until`): a dict with per-class max and mean of max_l |c_A - c_B| ("class_max",
    "class_mean"), their overall "max" and "mean", the shared "steps" (count, first, last) and per
    metrics column {"max", "mean"} of |A - B| ("columns"). a, b: Run objects or directories."""
    L = _lib.lib()
    out = _lib.c_void_p()
    with _Err() as e:
        e.check(L.ss_compare_dirs(_dir_of(a).encode(), _dir_of(b).encode(), -1 if until is None else int(until),
                                  _lib.ctypes.byref(out), e.p))
    try:
        first, last, N = _lib.c_int64(), _lib.c_int64(), _lib.c_int64()
        n = L.ss_comparison_nsteps(out, _lib.ctypes.byref(first), _lib.ctypes.byref(last))
        res = {"steps": {"count": n, "first": first.value, "last": last.value}}
        ptr = L.ss_comparison_class_max(out, _lib.ctypes.byref(N))
        res["class_max"] = _copy(ptr, [N.value], _lib.c_double, "<f8")
        res["class_mean"] = _copy(L.ss_comparison_class_mean(out, None), [N.value], _lib.c_double, "<f8")
        res["max"], res["mean"] = L.ss_comparison_max(out), L.ss_comparison_mean(out)
        res["columns"] = {_lib.text(L.ss_comparison_column_name(out, i)): {"max": L.ss_comparison_column_max(out, i),
                                                                        "mean": L.ss_comparison_column_mean(out, i)}
                          for i in range(L.ss_comparison_ncolumns(out))}
        return res
    finally:
        L.ss_comparison_free(out)


# ---- sweeps ---------------------------------------------------------------------------------------

class Sweep:
    """A sweep's table (sweep.csv): dir, names (its columns), rows (a list of dicts, numbers as
    floats), columns (name -> float array for numeric columns, list of text otherwise).
    run(i) reads point i's run."""

    def __init__(self, dir, names, rows):
        self.dir, self.names = dir, names
        self.rows = [{k: _cell(v) for k, v in row.items()} for row in rows]
        self.columns = {}
        for n in names:
            vals = [row[n] for row in self.rows]
            numeric = all(isinstance(v, float) for v in vals)
            self.columns[n] = (np.array(vals, dtype=np.float64) if np is not None else vals) if numeric else vals

    def __len__(self):
        return len(self.rows)

    def __repr__(self):
        return "Sweep(%r, %d runs, columns %s)" % (self.dir, len(self.rows), ", ".join(self.names))

    def run(self, i):
        return load_run(os.path.join(self.dir, self.rows[i]["dir"]))


def _cell(text):
    try:
        return files.number(text)
    except ValueError:
        return text


def sweep(grid, config=None, jobs=None, theory=None, out=None, progress=None, **fixed):
    """A grid of runs (`scansnap sweep`): grid = {key: list of values, or "a:b[:step]", or one
    value}; config a sweep YAML file or a dict of fixed keys; jobs worker processes (default:
    cores); theory=True for population runs; fixed keys as keywords. Rerunning the same sweep
    into the same out resumes it. Returns the Sweep (sweep.csv); a sweep stopped by the progress
    function f(done, total, failed, seconds) returns the table of what finished."""
    L = _lib.lib()
    g = L.ss_grid_new()
    fn, bar = _progress_fn(progress, "sweep")
    if bar:
        fn = bar.grid_callback
    failure = []

    def bridge(user, done, total, failed, seconds):
        try:
            return 1 if fn(done, total, failed, seconds) else 0
        except BaseException as e:
            failure.append(e)
            return 1

    cb = _lib.GRID_CALLBACK(bridge) if fn else _lib.GRID_CALLBACK()
    try:
        with _Err() as e:
            items = list(_items(config, {}))
            for k, v in _flatten(grid) if isinstance(grid, Mapping) else ():
                items.append(("key", k, v))
            items += [("key", _key(k), v) for k, v in fixed.items()]
            for name, v in (("jobs", jobs), ("theory", theory), ("out", out)):
                if v is not None:
                    items.append(("key", name, v))
            for kind, k, v in items:
                if kind == "yaml":
                    e.check(L.ss_grid_load_yaml(g, k.encode(), e.p))
                else:
                    e.check(L.ss_grid_set(g, k.encode(), _text(v).encode(), e.p))
            L.ss_grid_set_callback(g, cb, None)
            rc, interrupted = _blocking(lambda: L.ss_grid_run(g, e.p), lambda: L.ss_grid_request_stop(g))
            if bar:
                bar.close()
            if failure:
                raise failure[0]
            if interrupted:
                raise KeyboardInterrupt("scansnap: the sweep in %s stopped; run the same sweep again to resume it"
                                        % _lib.text(L.ss_grid_path(g)))
            if rc != ESTOP:  # stopped by the progress function: the table of what finished
                e.check(rc, _lib.text(L.ss_grid_path(g)) or None)
            return _sweep_from_handle(g)
    finally:
        L.ss_grid_free(g)


def _sweep_from_handle(g):
    L = _lib.lib()
    names = [_lib.text(L.ss_grid_column_name(g, i)) for i in range(L.ss_grid_ncolumns(g))]
    rows = [{n: _lib.text(L.ss_grid_cell(g, r, i)) for i, n in enumerate(names)} for r in range(L.ss_grid_nrows(g))]
    return Sweep(_lib.text(L.ss_grid_path(g)), names, rows)


# ---- reading directories with Python alone -------------------------------------------------------

def load_sweep(dir):
    """A sweep directory's sweep.csv (csv module alone)."""
    dir = os.fspath(dir)
    names, rows = files.read_table(os.path.join(dir, "sweep.csv"))
    return Sweep(dir, names, rows)


def load_run(dir):
    """Any run directory the CLI or this package wrote, read with Python's csv and json modules
    and numpy (no library needed): a training, theory or language-model run, a verify directory
    (claims), or a sweep directory (then a Sweep)."""
    dir = os.fspath(dir)
    p = lambda name: os.path.join(dir, name)  # noqa: E731
    if not os.path.isdir(dir):
        raise InputError("no run directory '%s'" % dir, EINPUT)
    if os.path.exists(p("sweep.csv")) and not os.path.exists(p("run.json")):
        return load_sweep(dir)
    if not any(os.path.exists(p(f)) for f in ("run.json", "metrics.csv", "claims.json")):
        raise InputError("'%s' holds no run (none of run.json, metrics.csv, claims.json)" % dir, EINPUT)
    import json
    r = Run()
    r.dir = dir
    if os.path.exists(p("run.json")):
        with open(p("run.json"), encoding="utf-8") as f:
            r.state = json.load(f).get("status")
    if os.path.exists(p("config.yaml")):
        r.config = files.read_config(p("config.yaml"))
    if os.path.exists(p("metrics.csv")):
        r.columns, r.metrics = files.read_metrics(p("metrics.csv"))
    if os.path.exists(p("dynamics.safetensors")):
        t, _ = files.load_safetensors(p("dynamics.safetensors"))
        r.steps, r.c_n, r.prob = t["steps"].copy(), t["c"].copy(), t["prob"].copy()
        r.classes = [{"query": int(q), "next": int(x)} for q, x in zip(t["query"], t["next"])]
    if os.path.exists(p("attention.safetensors")):
        t, meta = files.load_safetensors(p("attention.safetensors"))
        r.attention, r.attention_steps, r.attention_tokens = t["attention"].copy(), t["steps"].copy(), t["tokens"].copy()
        r.attention_words = json.loads(meta["words"]) if "words" in meta else []
    if os.path.exists(p("claims.json")):
        for c in files.read_claims(p("claims.json")):
            nums = {k: (float("nan") if v is None else float(v)) for k, v in c.get("numbers", {}).items()}
            r.claims.append(Claim(c["id"], c["name"], c["status"], c["measured"], c.get("why", ""), nums))
        r.claims.dir = dir
        if r.state is None:
            r.state = "complete"
    return r
