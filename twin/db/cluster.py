"""The project's own PostgreSQL + PostGIS cluster under ``.twin/``.

The cluster listens on 127.0.0.1 and on a socket in ``.twin/run``. Its superuser is
``twin`` with a random password kept in ``.twin/password`` (mode 600). When twin runs
as root, every server command runs as the ``postgres`` system user, because
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from twin._errors import SetupError, tool_message
from twin.config import Settings

SERVER_USER = "postgres"
SUPERUSER = "twin"


def _running_as_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class ClusterStatus:
    """What ``twin db status`` reports about the own cluster."""

    initialised: bool
    running: bool
    data_dir: Path
    port: int


class LocalCluster:
    """A private PostgreSQL cluster in ``settings.cluster_dir``.

    Parameters
    ----------
    settings
        Where the cluster lives, its port and PostgreSQL version.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.cluster_dir.resolve()
        self.data_dir = self.root / "pgdata"
        self.socket_dir = self.root / "run"
        self.log_file = self.root / "log" / "postgres.log"
        self.password_file = self.root / "password"
        self.bin_dir = Path(f"/usr/lib/postgresql/{settings.pg_version}/bin")

    # -- installation ---------------------------------------------------------------
    def postgis_control(self) -> Path:
        """Return the path of the PostGIS extension control file for this PostgreSQL."""
        return Path(f"/usr/share/postgresql/{self.settings.pg_version}/extension/postgis.control")

    def ensure_installed(self) -> None:
        """Install PostgreSQL and PostGIS from Debian when missing (as root), else explain.

        Raises
        ------
        SetupError
            When the packages are missing and cannot be installed here.
        """
        if (self.bin_dir / "initdb").is_file() and self.postgis_control().is_file():
            return
        package = f"postgresql-{self.settings.pg_version}-postgis-3"
        if not _running_as_root() or shutil.which("apt-get") is None:
            raise SetupError(
                f"PostgreSQL {self.settings.pg_version} with PostGIS 3 is not installed; "
                f"run `sudo apt-get install -y {package}` "
                "(or set TWIN_DATABASE_URL to an existing PostGIS)"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SetupError(
                    f"`{' '.join(cmd)}` failed: {tool_message(done.stderr)}; "
                    f"install {package} by hand or set TWIN_DATABASE_URL"
                )

    # -- helpers ----------------------------------------------------------------------
    def _server_cmd(self, tool: str, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", SERVER_USER, "--", *cmd] if _running_as_root() else cmd

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._server_cmd(tool, *args), capture_output=True, text=True, check=False
        )

    def _own(self, path: Path, mode: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
        if _running_as_root():
            shutil.chown(path, SERVER_USER, SERVER_USER)

    def _check_reachable(self) -> None:
        """Fail early when the server user cannot reach the cluster directory."""
        if not _running_as_root():
            return
        probe = subprocess.run(
            ["runuser", "-u", SERVER_USER, "--", "test", "-x", str(self.root)],
            capture_output=True,
            check=False,
        )
        if probe.returncode != 0:
            raise SetupError(
                f"the '{SERVER_USER}' user cannot enter {self.root} "
                "(a parent directory is private); "
                "set TWIN_CLUSTER_DIR to a directory it can reach, e.g. /var/tmp/twin"
            )

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        """Whether the cluster's data directory exists."""
        return (self.data_dir / "PG_VERSION").is_file()

    def running(self) -> bool:
        """Whether the cluster's server is running."""
        if not self.initialised:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir)).returncode == 0

    def accepting(self) -> bool:
        """Whether the server answers on the configured port (through its socket)."""
        done = self._run(
            "pg_isready",
            "-q",
            "-t",
            "10",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.settings.port),
        )
        return done.returncode == 0

    def status(self) -> ClusterStatus:
        """Return whether the cluster exists and runs."""
        return ClusterStatus(self.initialised, self.running(), self.data_dir, self.settings.port)

    def init(self) -> None:
        """Create the cluster (first time only) with a random superuser password."""
        if self.initialised:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self._check_reachable()
        self._own(self.data_dir, 0o700)
        self._own(self.socket_dir, 0o700)
        self._own(self.log_file.parent, 0o700)
        password = secrets.token_urlsafe(24)
        _write_private(self.password_file, password)
        pw_tmp = self.data_dir.parent / ".initdb-password"
        _write_private(pw_tmp, password)
        try:
            if _running_as_root():
                shutil.chown(pw_tmp, SERVER_USER, SERVER_USER)
            done = self._run(
                "initdb",
                "-D", str(self.data_dir),
                "-U", SUPERUSER,
                f"--pwfile={pw_tmp}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )  # fmt: skip
        finally:
            pw_tmp.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)  # the next `db up` starts clean
            raise SetupError(f"initdb failed in {self.data_dir}: {tool_message(done.stderr)}")
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as fh:
            fh.write(
                "\n# twin: private cluster on loopback only\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "shared_buffers = '256MB'\n"
                "max_wal_size = '2GB'\n"
            )

    def start(self) -> None:
        """Start the server if it is not running (waits until it accepts connections).

        Raises
        ------
        SetupError
            When the server does not start; the message quotes its log.
        """
        if self.running():
            if not self.accepting():
                raise SetupError(
                    f"{self.data_dir / 'postmaster.pid'} says a server runs, but none answers on "
                    f"port {self.settings.port}: if it runs on another port, `twin db down` and "
                    "`twin db up` again; if no postgres process runs, remove that stale file"
                )
            return
        done = self._run(
            "pg_ctl", "start", "-w", "-t", "60",
            "-D", str(self.data_dir),
            "-l", str(self.log_file),
            "-o", f"-p {self.settings.port}",
        )  # fmt: skip
        if done.returncode != 0:
            raise SetupError(
                f"PostgreSQL did not start on port {self.settings.port}: {self._log_tail()} "
                f"(log: {self.log_file}; another server on that port? set TWIN_PORT)"
            )

    def stop(self) -> None:
        """Stop the server if it runs."""
        if self.running():
            done = self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
            if done.returncode != 0:
                raise SetupError(f"pg_ctl stop failed: {tool_message(done.stderr)}")

    def _log_tail(self) -> str:
        done = subprocess.run(
            ["tail", "-n", "3", str(self.log_file)], capture_output=True, text=True, check=False
        )
        return " | ".join(line.strip() for line in done.stdout.splitlines()) or "no log"

    def url(self, database: str | None = None) -> str:
        """Return the libpq URL of a database in this cluster.

        Raises
        ------
        SetupError
            When the cluster was never created.
        """
        if not self.password_file.is_file():
            raise SetupError(
                f"the twin's own database does not exist yet in {self.root}; run `twin db up` "
                "(or set TWIN_DATABASE_URL to an existing PostGIS)"
            )
        try:
            password = self.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SetupError(
                f"{self.password_file}: cannot read the cluster password ({exc.strerror}); "
                "run twin as the user who created the cluster"
            ) from exc
        name = database or self.settings.database
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.settings.port}/{name}"

    def tool(self, name: str) -> str:
        """Return the path of a client tool (pg_dump, pg_restore, psql) matching the server."""
        path = self.bin_dir / name
        return str(path) if path.is_file() else name


def _write_private(path: Path, secret: str) -> None:
    """Write ``secret`` to a new file that only its owner can read (mode 600 from the start)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
