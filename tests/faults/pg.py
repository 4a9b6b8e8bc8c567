"""A private PostgreSQL 15 cluster on 127.0.0.1, started and restarted by a test.

The cluster gets a free port and its own socket folder, so the machine's
own server (port 5432) is never touched. PostgreSQL refuses to run as
root, so under root the cluster runs as the ``postgres`` user, in a
folder of its own that ``postgres`` can enter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.faults.harness import WAIT, free_port

BINARIES = Path("/usr/lib/postgresql/15/bin")


def missing_binaries() -> str | None:
    """Return why no private cluster can start here, or None when it can."""
    for name in ("initdb", "pg_ctl", "postgres"):
        if not (BINARIES / name).exists():
            return f"PostgreSQL 15 binaries not found: {BINARIES / name} is missing"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root, and runuser is missing to start PostgreSQL as postgres"
    return None


class PrivatePostgres:
    """One throwaway cluster; ``start``, ``restart`` and ``stop`` wait until done."""

    def __init__(self, folder: Path) -> None:
        self.as_root = os.geteuid() == 0
        if self.as_root:
            # pytest's tmp_path is private to root, which postgres cannot enter.
            folder = Path(tempfile.mkdtemp(prefix="servicecenter-pg-"))
            shutil.chown(folder, "postgres", "postgres")
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run(
            BINARIES / "initdb",
            "-D", str(self.data),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        self._pg_ctl("start", "-l", str(self.log), "-o", self._options())

    def restart(self) -> None:
        """Restart with ``-m fast``: open transactions are rolled back, clients cut."""
        self._pg_ctl(
            "restart", "-m", "fast", "-l", str(self.log), "-o", self._options()
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "fast")

    def remove(self) -> None:
        if self.as_root:
            shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def log_tail(self, size: int = 3000) -> str:
        if not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-size:]

    def _options(self) -> str:
        return (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off"
        )

    def _pg_ctl(self, action: str, *arguments: str) -> None:
        self._run(
            BINARIES / "pg_ctl", action, "-D", str(self.data), "-w",
            "-t", str(int(WAIT)), *arguments,
        )  # fmt: skip

    def _run(self, program: Path, *arguments: str) -> None:
        command = [str(program), *arguments]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        # Output goes to a file, not a pipe: the server that pg_ctl starts
        # inherits it, and a pipe would stay open until the server stops.
        with tempfile.TemporaryFile() as output:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=2 * WAIT,
                check=False,
            )
            output.seek(0)
            text = output.read().decode(errors="replace")
        if result.returncode != 0:
            raise RuntimeError(
                f"{program.name} failed with exit code {result.returncode}: "
                f"{text.strip()[-2000:]}\n{self.log_tail()}"
            )
