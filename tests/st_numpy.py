"""The strict safetensors reader of the tests: load(path) -> (dict name -> numpy array, metadata).

It lives in the Python package (python/scansnap/files.py, load_safetensors), which reads run
directories with numpy alone; the tests import it from the source tree through this name."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from scansnap.files import DTYPES, load_safetensors as load  # noqa: E402,F401
