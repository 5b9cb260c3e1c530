"""A one-line progress bar on stderr, tqdm-like, for calls that run for a while:

    train  43%|########6           | 43/100 [00:01<00:01, loss 0.0312]

Redrawn at most ten times a second, only once the call has run half a second (short runs print
nothing), and finished with a newline."""
import sys
import time


def _clock(s):
    if s is None or s != s or s < 0 or s > 1e7:
        return "?"
    s = int(s + 0.5)
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) if s >= 3600 else "%02d:%02d" % (s // 60, s % 60)


class Bar:
    WIDTH = 20

    def __init__(self, label, stream=None, unit="loss"):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self.t0 = time.monotonic()
        self.last = 0.0
        self.shown = False

    def line(self, done, total, extra, elapsed):
        frac = min(max(done / total, 0.0), 1.0) if total > 0 else 1.0
        eighths = int(frac * self.WIDTH * 8)
        bar = "#" * (eighths // 8) + ("%d" % (eighths % 8) if eighths % 8 and eighths // 8 < self.WIDTH else "")
        left = (elapsed / done * (total - done)) if done > 0 else None
        return "%s %3d%%|%-*s| %d/%d [%s<%s%s]" % (self.label, int(frac * 100), self.WIDTH, bar, done, total,
                                                _clock(elapsed), _clock(left), extra)

    def update(self, done, total, extra=""):
        now = time.monotonic()
        elapsed = now - self.t0
        end = done >= total
        if elapsed < 0.5 or (not end and now - self.last < 0.1):
            return
        self.last = now
        self.stream.write("\r" + self.line(done, total, extra, elapsed) + "   ")
        self.stream.flush()
        self.shown = True

    def run_callback(self, step, total, loss, seconds):
        self.update(step, total, ", %s %.4g" % (self.unit, loss))
        return False

    def grid_callback(self, done, total, failed, seconds):
        self.update(done, total, ", %d failed" % failed if failed else "")
        return False

    def close(self):
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
