"""Where every file of a workspace lives, atomic owner-only writes, and the run lock.

A partial run must never corrupt what an earlier run wrote: every file is written to a
temporary sibling and renamed into place, with mode 0600 because most of them hold
personal data (个人信息保护法).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from privmigrate.errors import InputError, LockedError

WORKSPACE_ENV = "PRIVMIGRATE_WORKSPACE"
_HELD: set[str] = set()  # lock files this process holds
OWNER_ONLY = 0o600


@dataclass(frozen=True)
class Workspace:
    """The folder a brand's privmigrate state lives in."""

    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> Workspace:
        """The workspace at ``root``, else $PRIVMIGRATE_WORKSPACE, else the current directory."""
        chosen = root if root not in (None, "") else os.environ.get(WORKSPACE_ENV) or "."
        path = Path(chosen).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise InputError(f"workspace {path} is a file, not a folder; pass --workspace DIR "
                             f"(or set {WORKSPACE_ENV}) to a folder")
        return cls(path)

    def is_workspace(self) -> bool:
        """True once `init`, `demo` or `load` made this folder a workspace (its config, its
        ledger or its data/ folder is there); a lock file alone does not make one."""
        return any(p.exists() for p in (self.config_path, self.state_db, self.data_dir))

    @property
    def config_path(self) -> Path:
        return self.root / "privmigrate.toml"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def orders_path(self) -> Path:
        return self.data_dir / "orders.parquet"

    @property
    def rejects_path(self) -> Path:
        return self.data_dir / "rejects.csv"

    @property
    def customers_path(self) -> Path:
        return self.data_dir / "customers.parquet"

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def batches_dir(self) -> Path:
        return self.root / "batches"

    @property
    def audiences_dir(self) -> Path:
        return self.root / "audiences"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def inbox_dir(self) -> Path:
        return self.root / "inbox"

    @property
    def lock_path(self) -> Path:
        return self.root / ".privmigrate.lock"

    def secret(self) -> bytes:
        """A per-workspace random key, used to derive customer ids that do not leak phones."""
        path = self.root / ".secret"
        if not path.exists():
            private_dir(self.root)
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(32))
        return path.read_bytes()

    @contextlib.contextmanager
    def lock(self, what: str = "privmigrate") -> Iterator[None]:
        """Hold the workspace lock; a second concurrent run gets LockedError (exit 5).

        Re-entrant within one process, so `run` can hold it while calling the steps that
        take it themselves when run alone.
        """
        key = str(self.lock_path)
        if key in _HELD:
            yield
            return
        private_dir(self.root)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, OWNER_ONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise LockedError(
                        f"{self.root} is in use by another privmigrate run; "
                        f"wait for it to finish, then run `privmigrate {what}` again"
                    ) from exc
                raise
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {what}\n".encode())
            _HELD.add(key)
            try:
                yield
            finally:
                _HELD.discard(key)
        finally:
            os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def atomic_path(target: Path, mode: int = OWNER_ONLY) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    On any exception the temporary file is removed and ``target`` is left as it was.
    """
    private_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: Path, data: bytes, mode: int = OWNER_ONLY) -> None:
    """Write ``data`` to ``target`` atomically with owner-only permissions."""
    with atomic_path(target, mode) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``target`` atomically with owner-only permissions."""
    write_bytes_atomic(target, text.encode(encoding))


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents, all owner-only, if needed; return it.

    (``Path.mkdir(parents=True, mode=0o700)`` gives the parents the umask's mode, 0755.)
    """
    missing = []
    here = path
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)  # raises if path is a file
    return path
