"""The Python package (python/scansnap) against the command line. Run by tests/test_python_api.sh
as: python_api.py SCANSNAP_CLI WORKDIR SOURCE_DIR (the package on PYTHONPATH, SCANSNAP_LIB set).

Every check reads what it compares with a real reader (csv, json, the strict safetensors reader)
or compares the bytes of files the byte-identity promise is about (README: a resumed run is
byte-identical to one never interrupted, the library's runs are the CLI's)."""
import csv
import filecmp
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

import scansnap
from scansnap import files

CLI, WORK, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
RUN_FILES = ["metrics.csv", "metrics.jsonl", "dynamics.safetensors", "checkpoint.safetensors"]


def cli(*args, ok=True):
    p = subprocess.run([CLI] + list(args), capture_output=True, text=True, env=dict(os.environ, SS_NO_GNUPLOT="1"))
    if ok and p.returncode != 0:
        raise AssertionError("scansnap %s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def w(name):
    return os.path.join(WORK, name)


def same_files(a, b, names=RUN_FILES):
    for f in names:
        assert filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False), "%s differs: %s vs %s" % (f, a, b)


def same_run(a, b):
    """Two Run objects hold the same arrays (bit for bit) and the same configuration."""
    assert a.columns == b.columns, (a.columns, b.columns)
    for c in a.columns:
        assert np.array_equal(a.metrics[c], b.metrics[c], equal_nan=True), c
    for name in ("steps", "c_n", "prob", "attention", "attention_steps", "attention_tokens"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert a.classes == b.classes and a.attention_words == b.attention_words and a.state == b.state
    assert a.config == b.config, set(a.config.items()) ^ set(b.config.items())
    assert [(c.id, c.status, c.measured, list(c.numbers)) for c in a.claims] == \
        [(c.id, c.status, c.measured, list(c.numbers)) for c in b.claims]
    for x, y in zip(a.claims, b.claims):
        assert np.array_equal(list(x.numbers.values()), list(y.numbers.values()), equal_nan=True), x.id


def test_figure4_same_bits_as_cli():
    cli("train", "out=" + w("fig4-cli"))
    r = scansnap.train(out=w("fig4-api"))
    same_files(w("fig4-cli"), w("fig4-api"))
    dyn, _ = files.load_safetensors(w("fig4-cli/dynamics.safetensors"))
    assert r.c_n.shape == (51, 2, 34) and r.c_n.tobytes() == dyn["c"].tobytes()
    rows = list(csv.DictReader(open(w("fig4-cli/metrics.csv"))))
    assert r.metrics["entropy"][-1] == float(rows[-1]["entropy"])
    assert abs(r.metrics["entropy"][-1] - 2.7411) < 1e-4
    assert list(r.steps) == [int(x["step"]) for x in rows]
    assert r.classes == [{"query": 30, "next": 32}, {"query": 31, "next": 33}]
    assert r.config["opt.method"] == "sgd" and r.config["data.T"] == 128 and r.state == "complete"
    # the same run as a dict and as the YAML file
    r2 = scansnap.train(os.path.join(SRC, "configs/fig4.yaml"), out=w("fig4-yaml"))
    r3 = scansnap.train({"opt": {"lr_z": 1}, "seed": 2}, out=w("fig4-dict"))
    assert r2.c_n.tobytes() == r.c_n.tobytes() and r3.c_n.tobytes() == r.c_n.tobytes()
    print("figure 4: API run = CLI run (metrics.csv, metrics.jsonl, dynamics, checkpoint bytes; c_n bits)")


def test_bad_key_message():
    p = cli("train", "opt.lr_zz=2", "out=" + w("bad-cli"), ok=False)
    assert p.returncode == 2
    for call in (lambda: scansnap.train(opt__lr_zz=2, out=w("bad-api")),
                 lambda: scansnap.train({"opt.lr_zz": 2}, out=w("bad-api"))):
        try:
            call()
        except ValueError as e:
            assert isinstance(e, scansnap.InputError) and e.code == 2
            assert "scansnap: %s\n" % e == p.stderr, (str(e), p.stderr)
            assert "did you mean 'opt.lr_z'?" in str(e)
        else:
            raise AssertionError("a bad key raised nothing")
    assert not os.path.exists(w("bad-api")) and not os.path.exists(w("bad-cli"))
    try:
        scansnap.train(niter="many", out=w("bad-api"))
    except ValueError as e:
        assert "key 'niter': 'many' is not an integer" in str(e)
    else:
        raise AssertionError("a bad value raised nothing")
    print("bad key: ValueError with the CLI's message:", p.stderr.strip())


def test_load_run_reads_cli_dirs():
    # a training run, a theory run (both from the CLI; the Figure-4 one above)
    cli("theory", "out=" + w("theory-cli"))
    cli("sweep", "seed=1,2,3", "niter=20", "jobs=2", "out=" + w("sweep-cli"))
    for d in ("fig4-cli", "theory-cli"):
        a, b = scansnap.load_run(w(d)), scansnap.open_run(w(d))  # Python alone / the library
        same_run(a, b)
        assert a.c_n.shape == (51, 2, 34) and a.state == "complete"
    t = scansnap.load_run(w("theory-cli"))
    assert os.path.exists(w("theory-cli/snap.json"))
    # a sweep: its table, and its points as runs
    s = scansnap.load_run(w("sweep-cli"))
    assert isinstance(s, scansnap.Sweep) and len(s) == 3
    assert list(s.columns["seed"]) == [1.0, 2.0, 3.0] and s.columns["status"] == ["complete"] * 3
    table = list(csv.DictReader(open(w("sweep-cli/sweep.csv"))))
    assert [float(x["entropy"]) for x in table] == list(s.columns["entropy"])
    p = s.run(1)
    assert p.metrics["entropy"][-1] == s.rows[1]["entropy"] and p.config["seed"] == 2
    # a language-model run on a tiny corpus
    corpus = w("text.txt")
    words = "the cat sat on a mat dog ran far away said man big small red".split()
    rng = np.random.default_rng(1)
    with open(corpus, "w") as f:
        for _ in range(300):
            f.write(" ".join(words[i] for i in rng.integers(0, 15, 10)) + "\n")
    lm = ["model.type=transformer", "model.task=lm", "data.path=" + corpus, "data.cache=" + w("cache"), "model.d=16",
          "model.H=2", "data.T=8", "batchsize=4", "niter=40", "text.epochs=2", "text.epoch_steps=20",
          "text.eval_batches=2", "text.top_k=3", "text.probes=2", "text.probe_steps=0,20,40"]
    cli("train", "out=" + w("lm-cli"), *lm)
    a, b = scansnap.load_run(w("lm-cli")), scansnap.open_run(w("lm-cli"))
    same_run(a, b)
    assert a.attention.shape == (3, 2, 8, 8) and a.attention.dtype == np.float32
    assert list(a.attention_steps) == [0, 20, 40] and len(a.attention_words) == 8
    assert set(a.attention_words) <= set(words)
    assert np.allclose(a.attention.sum(axis=3), 1, atol=1e-5)  # rows of attention sum to 1
    assert "attn_entropy" in a.metrics and a.c_n.shape[1] == 0
    # the same LM run through the API: the same files
    r = scansnap.train(dict(x.split("=", 1) for x in lm), out=w("lm-api"))
    same_files(w("lm-cli"), w("lm-api"), RUN_FILES + ["attention.safetensors"])
    assert r.attention.tobytes() == a.attention.tobytes()
    print("load_run: a CLI run, a theory run, a sweep (%d points) and an LM run (attention %s) read alike by Python "
          "and the library" % (len(s), a.attention.shape))


def test_callback_stop_resumes_byte_identical():
    seen = []

    def stop_at_30(step, total, loss, seconds):
        seen.append(step)
        return step >= 30

    r = scansnap.train(out=w("stopped"), progress=stop_at_30)
    assert r.state == "interrupted" and r.metrics["step"][-1] == 30 and seen[-1] == 30
    assert json.load(open(w("stopped/run.json")))["status"] == "interrupted"
    r2 = scansnap.resume(w("stopped"))
    assert r2.state == "complete"
    same_files(w("fig4-cli"), w("stopped"))
    # an exception in the callback stops the run and reaches the caller
    try:
        scansnap.train(out=w("raised"), progress=lambda *a: 1 / 0)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("the callback's exception was lost")
    assert json.load(open(w("raised/run.json")))["status"] == "interrupted"
    print("stop from the callback at step 30, resume: byte-identical to the uninterrupted CLI run")


CHILD = r"""
import sys, time, scansnap
def slow(step, total, loss, seconds):
    if step == 10:
        print("go", flush=True)
    time.sleep(0.002)
try:
    scansnap.train(out=sys.argv[1], niter=3000, save_every=500, data__T=16, batchsize=8, progress=slow)
    print("finished")
except KeyboardInterrupt as e:
    print("KeyboardInterrupt:", e)
"""


def test_ctrl_c_stops_with_checkpoint():
    args = ["niter=3000", "save_every=500", "data.T=16", "batchsize=8"]
    cli("train", "out=" + w("sigint-ref"), *args)
    p = subprocess.Popen([sys.executable, "-c", CHILD, w("sigint")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "go"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and out.startswith("KeyboardInterrupt: scansnap: stopped on request at step"), (out, err)
    assert "scansnap.resume(" in out
    st = json.load(open(w("sigint/run.json")))
    assert st["status"] == "interrupted" and os.path.exists(w("sigint/checkpoint.safetensors"))
    scansnap.resume(w("sigint"))
    same_files(w("sigint-ref"), w("sigint"))
    print("Ctrl-C: %s; resumed byte-identical" % out.strip())


def test_theory_compare_diverge():
    t = scansnap.theory(out=w("theory-api"))
    same_files(w("theory-cli"), w("theory-api"), ["metrics.csv", "dynamics.safetensors"])
    c = scansnap.compare(w("fig4-cli"), t)
    p = cli("compare", w("fig4-cli"), w("theory-api"))
    line = [x for x in p.stdout.splitlines() if x.startswith("all ")][0].split()
    assert abs(float(line[1]) - c["max"]) < 1e-6 and abs(float(line[2]) - c["mean"]) < 1e-6, (line, c)
    assert c["steps"] == {"count": 51, "first": 0, "last": 100} and len(c["class_max"]) == 2
    try:
        scansnap.train(out=w("diverged"), opt__method="adam", opt__lr=1e308, niter=5)
    except scansnap.DivergedError as e:
        assert isinstance(e, RuntimeError) and e.code == 3 and e.dir == w("diverged") and "diverged at step" in str(e)
    else:
        raise AssertionError("no DivergedError")
    print("theory vs SGD: max %.4f, mean %.4f (as `scansnap compare`); divergence raises DivergedError" % (c["max"], c["mean"]))


def test_verify_and_sweep():
    claims = scansnap.verify(out=w("verify"), verify__grid=False)
    assert [c.id for c in claims] == [1, 2, 3, 4] and claims[3].status == "SKIP"
    doc = json.load(open(w("verify/claims.json")))
    assert [c["status"] for c in doc["claims"]] == [c.status for c in claims]
    assert claims[0].numbers["sgd_common_mass_end"] == doc["claims"][0]["numbers"]["sgd_common_mass_end"]
    same_run(scansnap.load_run(w("verify")), scansnap.open_run(w("verify")))
    s = scansnap.sweep({"seed": [1, 2, 3]}, niter=20, jobs=2, out=w("sweep-api"))
    assert s.columns["entropy"].tobytes() == scansnap.load_sweep(w("sweep-cli")).columns["entropy"].tobytes()
    for name in os.listdir(w("sweep-cli")):
        if name.startswith("seed="):  # a sweep keeps light runs (docs/sweeps.md)
            same_files(w("sweep-cli/" + name), w("sweep-api/" + name), ["metrics.csv"])
    print("verify: %s; sweep: 3 points as the CLI's" % ", ".join("%d %s" % (c.id, c.status) for c in claims))


def test_progress_bar():
    import io
    from scansnap.progress import Bar
    out = io.StringIO()
    b = Bar("train", stream=out)
    b.run_callback(10, 100, 0.5, 0.1)  # under half a second: nothing
    assert out.getvalue() == ""
    b.t0 -= 2.0  # as if the call had run 2 s
    b.run_callback(50, 100, 0.123456, 2.0)
    line = out.getvalue()
    assert line.startswith("\rtrain  50%|##########          | 50/100 [00:02<00:02, loss 0.1235]"), repr(line)
    b.close()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1
    seen = []
    scansnap.train(out=w("progress"), niter=10, progress=lambda *a: seen.append(a))
    assert [a[0] for a in seen] == list(range(11)) and all(a[1] == 10 for a in seen)
    assert seen[0][2] == scansnap.load_run(w("progress")).metrics["loss"][0]
    print("progress: %r" % line.strip())


for test in [test_progress_bar, test_figure4_same_bits_as_cli, test_bad_key_message, test_load_run_reads_cli_dirs,
             test_callback_stop_resumes_byte_identical, test_ctrl_c_stops_with_checkpoint, test_theory_compare_diverge,
             test_verify_and_sweep]:
    test()
print("python API: all checks passed")
