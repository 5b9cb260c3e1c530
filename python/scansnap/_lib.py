"""ctypes over libscansnap.so: finding the library and declaring the functions of <scansnap.h>.

The library is looked for, first found wins:
  1. $SCANSNAP_LIB, a path to libscansnap.so (when set, nothing else is tried);
  2. a checkout: build/libscansnap.so next to python/ (`make run` or `make build` made it);
  3. an installation: PREFIX/lib/libscansnap.so.0 for the package in
     PREFIX/lib/python3/dist-packages/scansnap (`make install PREFIX=...`);
  4. libscansnap.so.0 on the dynamic loader's path (ldconfig, LD_LIBRARY_PATH).
"""
import ctypes
import os
import threading

from ctypes import POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t, c_void_p

_HERE = os.path.dirname(os.path.abspath(__file__))
_lock = threading.Lock()
_lib = None

RUN_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_int64, c_int64, c_double, c_double)
GRID_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_int64, c_int64, c_int64, c_double)

P64 = POINTER(c_int64)

# name: (restype, argtypes)
_FUNCS = {
    "ss_version": (c_char_p, []),
    "ss_err_new": (c_void_p, []),
    "ss_err_free": (None, [c_void_p]),
    "ss_err_code": (c_int, [c_void_p]),
    "ss_err_message": (c_char_p, [c_void_p]),
    "ss_config_new": (c_void_p, []),
    "ss_config_copy": (c_void_p, [c_void_p]),
    "ss_config_free": (None, [c_void_p]),
    "ss_config_set": (c_int, [c_void_p, c_char_p, c_char_p, c_void_p]),
    "ss_config_load_yaml": (c_int, [c_void_p, c_char_p, c_void_p]),
    "ss_config_get": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t, c_void_p]),
    "ss_config_nkeys": (c_int, []),
    "ss_config_key_name": (c_char_p, [c_int]),
    "ss_config_key_type": (c_char_p, [c_int]),
    "ss_config_key_default": (c_char_p, [c_int]),
    "ss_config_key_help": (c_char_p, [c_int]),
    "ss_run_new": (c_void_p, []),
    "ss_run_free": (None, [c_void_p]),
    "ss_run_set_callback": (None, [c_void_p, RUN_CALLBACK, c_void_p]),
    "ss_run_request_stop": (None, [c_void_p]),
    "ss_run_train": (c_int, [c_void_p, c_void_p, c_void_p]),
    "ss_run_theory": (c_int, [c_void_p, c_void_p, c_void_p]),
    "ss_run_resume": (c_int, [c_void_p, c_char_p, POINTER(c_char_p), c_int, c_void_p]),
    "ss_run_verify": (c_int, [c_void_p, c_void_p, c_char_p, c_void_p]),
    "ss_run_open": (c_int, [c_void_p, c_char_p, c_void_p]),
    "ss_run_path": (c_char_p, [c_void_p]),
    "ss_run_state": (c_char_p, [c_void_p]),
    "ss_run_config": (c_void_p, [c_void_p]),
    "ss_run_nrows": (c_int64, [c_void_p]),
    "ss_run_ncolumns": (c_int, [c_void_p]),
    "ss_run_column_name": (c_char_p, [c_void_p, c_int]),
    "ss_run_column": (POINTER(c_double), [c_void_p, c_char_p, P64]),
    "ss_run_cn": (POINTER(c_double), [c_void_p, P64, P64, P64]),
    "ss_run_steps": (P64, [c_void_p, P64]),
    "ss_run_class_query": (POINTER(c_int32), [c_void_p, P64]),
    "ss_run_class_next": (POINTER(c_int32), [c_void_p, P64]),
    "ss_run_class_prob": (POINTER(c_double), [c_void_p, P64, P64]),
    "ss_run_attention": (POINTER(c_float), [c_void_p, P64, P64, P64]),
    "ss_run_attention_steps": (P64, [c_void_p, P64]),
    "ss_run_attention_tokens": (POINTER(c_int32), [c_void_p, P64]),
    "ss_run_attention_word": (c_char_p, [c_void_p, c_int64]),
    "ss_run_nclaims": (c_int, [c_void_p]),
    "ss_run_claim_id": (c_int, [c_void_p, c_int]),
    "ss_run_claim_name": (c_char_p, [c_void_p, c_int]),
    "ss_run_claim_status": (c_char_p, [c_void_p, c_int]),
    "ss_run_claim_measured": (c_char_p, [c_void_p, c_int]),
    "ss_run_claim_why": (c_char_p, [c_void_p, c_int]),
    "ss_run_claim_nnumbers": (c_int, [c_void_p, c_int]),
    "ss_run_claim_number_name": (c_char_p, [c_void_p, c_int, c_int]),
    "ss_run_claim_number": (c_double, [c_void_p, c_int, c_int]),
    "ss_compare_dirs": (c_int, [c_char_p, c_char_p, c_int64, POINTER(c_void_p), c_void_p]),
    "ss_comparison_free": (None, [c_void_p]),
    "ss_comparison_nsteps": (c_int64, [c_void_p, P64, P64]),
    "ss_comparison_class_max": (POINTER(c_double), [c_void_p, P64]),
    "ss_comparison_class_mean": (POINTER(c_double), [c_void_p, P64]),
    "ss_comparison_max": (c_double, [c_void_p]),
    "ss_comparison_mean": (c_double, [c_void_p]),
    "ss_comparison_ncolumns": (c_int, [c_void_p]),
    "ss_comparison_column_name": (c_char_p, [c_void_p, c_int]),
    "ss_comparison_column_max": (c_double, [c_void_p, c_int]),
    "ss_comparison_column_mean": (c_double, [c_void_p, c_int]),
    "ss_grid_new": (c_void_p, []),
    "ss_grid_free": (None, [c_void_p]),
    "ss_grid_set": (c_int, [c_void_p, c_char_p, c_char_p, c_void_p]),
    "ss_grid_load_yaml": (c_int, [c_void_p, c_char_p, c_void_p]),
    "ss_grid_set_callback": (None, [c_void_p, GRID_CALLBACK, c_void_p]),
    "ss_grid_request_stop": (None, [c_void_p]),
    "ss_grid_run": (c_int, [c_void_p, c_void_p]),
    "ss_grid_open": (c_int, [c_void_p, c_char_p, c_void_p]),
    "ss_grid_path": (c_char_p, [c_void_p]),
    "ss_grid_nrows": (c_int64, [c_void_p]),
    "ss_grid_ncolumns": (c_int, [c_void_p]),
    "ss_grid_column_name": (c_char_p, [c_void_p, c_int]),
    "ss_grid_cell": (c_char_p, [c_void_p, c_int64, c_int]),
    "ss_grid_column": (POINTER(c_double), [c_void_p, c_char_p, P64]),
}


def candidates():
    """Where the library is looked for, in order (see the module's docstring)."""
    env = os.environ.get("SCANSNAP_LIB")
    if env:
        return [env]
    return [os.path.normpath(os.path.join(_HERE, "..", "..", "build", "libscansnap.so")),
            os.path.normpath(os.path.join(_HERE, "..", "..", "..", "libscansnap.so.0")),
            "libscansnap.so.0"]


def lib():
    """The loaded library (loaded on first use)."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in candidates():
            if os.sep in path and not os.path.exists(path):
                tried.append(path + " (no such file)")
                continue
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
                continue
            for name, (res, args) in _FUNCS.items():
                fn = getattr(handle, name)
                fn.restype = res
                fn.argtypes = args
            _lib = handle
            return _lib
        raise ImportError("scansnap: cannot load libscansnap; build it (make build) or set SCANSNAP_LIB. Tried: "
                          + "; ".join(tried))


def text(b):
    return b.decode("utf-8", "replace") if b is not None else None
