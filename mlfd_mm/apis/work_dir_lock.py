"""One run owns a work directory: ``<dir>/.lock`` names it (PID, host,
start time, command), created atomically (``O_CREAT | O_EXCL``).

A second run on the same directory stops with :class:`WorkDirLocked`, naming
the owner. A lock whose owner is no longer alive on this host (a run killed
by SIGKILL, a machine restarted) is stale: it is taken over with a warning.
A lock written on another host is never taken over (its owner cannot be
checked from here): remove it by hand once that run is gone.
"""
import datetime
import json
import os
import os.path as osp
import socket
import sys
import time

LOCK_NAME = '.lock'


class WorkDirLocked(RuntimeError):
    """The directory is owned by another live run."""


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _read_owner(path):
    """The owner recorded in a lock file; {} if it is unreadable or torn."""
    try:
        with open(path) as f:
            owner = json.load(f)
        return owner if isinstance(owner, dict) else {}
    except (OSError, ValueError):
        return {}


def describe_owner(owner):
    return (f'PID {owner.get("pid", "?")} on host '
            f'{owner.get("host", "?")}, started {owner.get("started", "?")}'
            f' ({owner.get("command", "?")})')


class WorkDirLock:
    """The lock of one directory; a context manager.

    Args:
        directory (str): the directory (created if missing).
        torn_grace_s (float): a lock file that cannot be read (its owner is
            writing it) is waited for this long before it counts as stale.
    """

    def __init__(self, directory, torn_grace_s=5.0):
        self.directory = directory
        self.path = osp.join(directory, LOCK_NAME)
        self.torn_grace_s = torn_grace_s
        self.owner = None

    def acquire(self):
        os.makedirs(self.directory, exist_ok=True)
        me = dict(pid=os.getpid(), host=socket.gethostname(),
                  started=datetime.datetime.now(
                      datetime.timezone.utc).isoformat(timespec='seconds'),
                  command=' '.join(sys.argv))
        deadline = time.time() + self.torn_grace_s
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY,
                             0o644)
            except FileExistsError:
                owner = _read_owner(self.path)
                if not owner and time.time() < deadline:
                    time.sleep(0.1)  # being written right now
                    continue
                self._take_over_if_stale(owner)
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(me, f)
                f.flush()
                os.fsync(f.fileno())
            self.owner = me
            return self

    def _take_over_if_stale(self, owner):
        same_host = owner.get('host') == socket.gethostname()
        if owner and not same_host:
            raise WorkDirLocked(
                f'{self.directory} is in use by {describe_owner(owner)} '
                f'(lock {self.path}). That host cannot be checked from here: '
                'if that run is over, remove the lock file.')
        if owner and owner.get('pid') == os.getpid():
            raise WorkDirLocked(
                f'{self.directory} is already locked by this process '
                f'({self.path})')
        if owner and _pid_alive(owner.get('pid')):
            raise WorkDirLocked(
                f'{self.directory} is in use by {describe_owner(owner)}; '
                f'wait for it to finish, stop it (kill {owner["pid"]}), or '
                'use another --work-dir (lock: ' + self.path + ')')
        what = describe_owner(owner) if owner else 'an unreadable lock'
        print(f'warning: taking over the stale lock of {self.directory}: '
              f'{what} is not running any more', file=sys.stderr, flush=True)
        # Rename first: of two runs taking over at once, one wins.
        aside = f'{self.path}.stale.{os.getpid()}'
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        os.remove(aside)

    def release(self):
        """Remove the lock if it is still ours."""
        if self.owner is None:
            return
        owner = _read_owner(self.path)
        if (owner.get('pid'), owner.get('host')) == (self.owner['pid'],
                                                      self.owner['host']):
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        self.owner = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
