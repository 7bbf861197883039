"""A long build that a test module inspects (the docs site, the wheel),
started in the background as soon as the run is known to include that
module: conftest.py calls the module's ``start_early``. The build's CPU
seconds then overlap the many tests that mostly wait on timers, which keeps
the serial fast subset short. Without an early start (a pytest-xdist
worker, or a module run alone) the first ``result()`` starts it."""

import atexit
import shutil
import subprocess
import tempfile
from typing import Callable, List, NamedTuple, Optional


class Built(NamedTuple):
    #: The directory the command was prepared in and wrote to.
    dir: str
    returncode: int
    stdout: str
    stderr: str


class Background:
    """One command, run once per test session in a fresh directory that
    ``prepare`` fills and turns into the command's arguments."""

    def __init__(self, prepare: Callable[[str], List[str]], timeout: float = 240) -> None:
        self._prepare = prepare
        self._timeout = timeout
        self._dir = ""
        self._proc: "Optional[subprocess.Popen[str]]" = None

    def start(self) -> None:
        if self._proc is not None:
            return
        self._dir = tempfile.mkdtemp(prefix="sockjs-tests-")
        atexit.register(shutil.rmtree, self._dir, True)
        self._proc = subprocess.Popen(
            self._prepare(self._dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        # A run that stops before the module's tests leaves no build behind.
        atexit.register(self._proc.kill)

    def result(self) -> Built:
        self.start()
        assert self._proc is not None
        try:
            stdout, stderr = self._proc.communicate(timeout=self._timeout)
        finally:
            self._proc.kill()
        return Built(self._dir, self._proc.returncode, stdout, stderr)
