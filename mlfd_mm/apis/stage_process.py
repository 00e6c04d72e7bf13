"""A pipeline stage's process: run in the repository root with the user's
``PYTHONPATH`` kept, in its own process group, stopped with the pipeline.

- SIGTERM or SIGINT to the pipeline (``kill``, Ctrl-C) is forwarded to the
  stage's whole process group (tools/train.py and its data-loader workers);
  the pipeline waits for it to end (SIGKILL after ``STOP_GRACE_S``) and exits
  with ``128 + signal``, its work-directory locks removed.
- SIGKILL of the pipeline cannot be caught: the stage's process is then sent
  SIGTERM by the kernel (``prctl(PR_SET_PDEATHSIG)`` on Linux), so it does
  not go on training unnoticed.

A student's export (tools/export_student.py) counts as done only with its
marker, ``export/export.json``, written after both files and naming the
digest of the checkpoint exported (:func:`export_complete`).
"""
import contextlib
import ctypes
import json
import os
import os.path as osp
import resource
import signal
import subprocess
import sys
import threading
import time

from ..atomic_files import atomic_write_json, file_sha256
from .stage_record import keep_previous

# The stages run the repository's tools/ scripts, in the repository root.
REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
STOP_GRACE_S = 60
_PR_SET_PDEATHSIG = 1


class PipelineInterrupted(SystemExit):
    """The pipeline got SIGTERM / SIGINT; exits with ``128 + signum``."""

    def __init__(self, signum):
        super().__init__(128 + signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise PipelineInterrupted(signum)


class stop_on_signals:
    """Within it, SIGTERM and SIGINT raise :class:`PipelineInterrupted`
    (so that ``finally`` blocks, e.g. removing locks, run). Does nothing
    outside the main thread."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self):
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, _raise_interrupted)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _die_with_parent(parent_pid):
    """preexec_fn: the child gets SIGTERM when the pipeline dies. libc is
    loaded here, in the parent: the forked child only calls prctl."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None

    def preexec():
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # it died before prctl
            os._exit(1)
    return preexec


def stage_environment(environ=None):
    """The environment of a stage's process: ``environ`` (default
    ``os.environ``) with the repository root first on ``PYTHONPATH``; the
    user's own ``PYTHONPATH`` entries are kept after it."""
    environ = dict(os.environ if environ is None else environ)
    paths = [p for p in environ.get('PYTHONPATH', '').split(os.pathsep)
             if p and osp.abspath(p) != REPO]
    environ['PYTHONPATH'] = os.pathsep.join([REPO, *paths])
    return environ


def _stop(proc, signum):
    """Forward ``signum`` to the stage's process group and wait for it."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in stop_on_signals.SIGNALS:  # a second Ctrl-C: still wait
            previous[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        print(f'stopping the stage process (PID {proc.pid}) ...',
              file=sys.stderr, flush=True)
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass
        deadline = time.time() + STOP_GRACE_S
        while proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_logged(cmd, log_file):
    """Run ``cmd`` in the repository root with its output in ``log_file``
    (an earlier attempt's log is kept as ``<log_file>.<n>``); raise with
    the log's last lines if it fails. Stopped with the pipeline (see the
    module's docstring).

    Returns:
        dict: ``wall_time_s`` and ``cpu_time_s``, the process's user + system
        CPU time with that of the children it waited for (its data-loader
        workers): the figure that does not depend on what else the machine
        runs. Measured as the change of this process's ``RUSAGE_CHILDREN``
        (the pipeline runs one command at a time).
    """
    keep_previous(log_file)
    cpu_before, start = _children_cpu_s(), time.time()
    with open(log_file, 'w') as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            env=stage_environment(), start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()))
        try:
            returncode = proc.wait()
        except BaseException as exc:
            _stop(proc, getattr(exc, 'signum', signal.SIGINT if isinstance(
                exc, KeyboardInterrupt) else signal.SIGTERM))
            raise
    if returncode != 0:
        with open(log_file) as f:
            tail = ''.join(f.readlines()[-30:])
        raise RuntimeError(
            f'command failed ({returncode}): {" ".join(cmd)}\n'
            f'last lines of {log_file}:\n{tail}')
    return dict(wall_time_s=time.time() - start,
                cpu_time_s=_children_cpu_s() - cpu_before)


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


EXPORT_FILES = ('student.pth', 'student_config.py')
EXPORT_MARKER = 'export.json'


def export_complete(record, out_dir):
    """Whether ``out_dir`` holds the whole export of ``record``'s
    checkpoint: its marker (written once both files were) names that
    checkpoint's digest and the files' sizes and digests."""
    marker = _read_json(osp.join(out_dir, EXPORT_MARKER))
    if not marker or marker.get('checkpoint_sha256') != record.get(
            'checkpoint_sha256'):
        return False
    for name in EXPORT_FILES:
        path = osp.join(out_dir, name)
        want = marker.get('files', {}).get(name, {})
        if not osp.isfile(path) or os.path.getsize(path) != want.get('size'):
            return False
    return True


def export_student_run(record, work_dir):
    """Write the stock student of a finished stage-3 run, unless the whole
    export of that checkpoint is there already."""
    out_dir = osp.join(work_dir, 'export')
    if export_complete(record, out_dir):
        return out_dir
    with contextlib.suppress(FileNotFoundError):
        os.remove(osp.join(out_dir, EXPORT_MARKER))
    run_logged([sys.executable, osp.join(REPO, 'tools/export_student.py'),
                record['config'], record['checkpoint'], out_dir],
               osp.join(work_dir, 'export.out'))
    files = {}
    for name in EXPORT_FILES:
        path = osp.join(out_dir, name)
        files[name] = dict(size=os.path.getsize(path),
                           sha256=file_sha256(path))
    atomic_write_json(osp.join(out_dir, EXPORT_MARKER), dict(
        checkpoint_sha256=record.get('checkpoint_sha256'), files=files))
    return out_dir
