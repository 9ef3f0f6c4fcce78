"""``--exec CMD ARGS...`` (bcc's opensnoop and syscount): trace a command the tool starts
itself.  The command is forked before the BPF object is loaded (its pid becomes the -p
filter) and held on a pipe until tracing is on, so none of its work is missed; when it
exits, tracing ends as if by Ctrl-C.  Imported only when ``--exec`` is given."""

from __future__ import annotations

import _signal as signal
import os
import sys

from . import _common


def check(args) -> None:
    """bcc's refusals, as one-line errors: --exec with -p, --exec with nothing after it."""
    if args.exec is None:
        return
    if getattr(args, "pid", None) or getattr(args, "tid", None):
        raise SystemExit("error: can only use -p/-t or --exec")
    if not args.exec:
        raise SystemExit("error: --exec without command")


class Command:
    """A forked child that runs ``argv`` once :meth:`start` lets it go; :meth:`close`
    before that ends it without running anything.  A context manager."""

    def __init__(self, argv: list[str]):
        self.argv = list(argv)
        self.started = False
        self.status: int | None = None
        self._old = None
        self._why = -1
        self._read, self._write = os.pipe2(os.O_CLOEXEC)
        # the child says here why exec failed; a successful exec closes it (O_CLOEXEC)
        self._why, why = os.pipe2(os.O_CLOEXEC)
        self.pid = os.fork()
        if self.pid == 0:               # the child: nothing here may return or raise
            code = 1
            try:
                os.close(self._write)
                os.close(self._why)
                if os.read(self._read, 1):
                    try:
                        os.execvp(self.argv[0], self.argv)
                    except OSError as e:
                        os.write(why, (e.strerror or str(e)).encode())
                        code = 127
            finally:
                os._exit(code)
        os.close(self._read)
        os.close(why)

    def start(self) -> None:
        """Let the command run; from now on its exit stops the tool's tracing (a Stop
        delivered as a signal would be, SIGCHLD's)."""
        self._old = signal.getsignal(signal.SIGCHLD)
        signal.signal(signal.SIGCHLD, self._child_changed)
        self.started = True
        os.write(self._write, b"x")
        os.close(self._write)
        self._write = -1

    def _child_changed(self, signum, frame) -> None:
        if self.status is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == self.pid:
            self.status = status
            # seen by the event loop's next look (raise_if_stopped): raised here, the Stop
            # could land before the loop's try, between start() and the first poll
            _common._stop_seen[0] = signum

    def check(self) -> None:
        """After tracing: a command that could not be run is the tool's error."""
        if self._why >= 0 and self.status is not None:
            why = os.read(self._why, 512).decode(errors="replace")
            if why:
                from .. import errors
                raise errors.PybpfError(f"--exec: cannot run {self.argv[0]!r}: {why}")

    def close(self) -> None:
        """Restore SIGCHLD; a command never started is ended and reaped.  A running one is
        left to finish (bcc's behaviour: the tool stopped, not the command)."""
        if self._write >= 0:
            os.close(self._write)       # the child reads EOF and exits without exec
            self._write = -1
            if self.status is None:
                os.waitpid(self.pid, 0)
                self.status = 1
        if self._old is not None:
            signal.signal(signal.SIGCHLD, self._old)
            self._old = None
        if self._why >= 0:
            os.close(self._why)
            self._why = -1

    def __enter__(self) -> "Command":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def command(args) -> Command:
    """The --exec child for ``args``, its pid set as the -p filter."""
    check(args)
    sys.stdout.flush()
    sys.stderr.flush()
    cmd = Command(args.exec)
    args.pid = cmd.pid
    return cmd
