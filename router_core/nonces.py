"""Strictly increasing nonces per API key, across threads, restarts and clock steps.

A nonce is ``max(last + 1, now in milliseconds)``: it follows the clock when it can and counts
past it when many requests share one millisecond or the clock steps backwards. Restarts are
covered by a persisted *ceiling*: before a nonce above the ceiling is handed out, a new ceiling
(``LEASE`` ahead) is written and fsynced, and a restarted process starts above the old ceiling.
So one file write covers ``LEASE`` nonces instead of one write per request. That write is
made ahead of need, on a helper thread, once half the lease is used (``RENEW_AHEAD``): the
request that crosses the half goes out at once, and the event loop does not wait for an fsync
once a minute per key (a 50-account alert paid 50 of them, about 12 ms, when its keys' leases
ran out together). A nonce above the durable ceiling is still never handed out: if the clock or
a burst outruns the renewal, ``next`` writes the ceiling in place first, as before.

Several instances sharing a key over time (``router_core.cluster``: one drives it at a time) also
keep the ceiling in a shared ``CeilingStore``: an instance taking a key over starts above every
nonce its previous owner could have handed out (``NonceRegistry.refresh``).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from .errors import ConfigError
from .helper_threads import run_as_batch_thread

LEASE = 60_000  # nonces (one minute of milliseconds) covered by one persisted ceiling
RENEW_AHEAD = LEASE // 2  # the next ceiling is written in the background this far ahead of need

log = logging.getLogger("router_core.nonces")
_renewals: ThreadPoolExecutor | None = None
_renewals_lock = threading.Lock()


def _renewal_thread() -> ThreadPoolExecutor:
    """The one thread that writes ceilings ahead of need, for every key (started on first use)."""
    global _renewals
    with _renewals_lock:
        if _renewals is None:
            _renewals = ThreadPoolExecutor(1, "nonce-ceilings", initializer=run_as_batch_thread)
        return _renewals


class CeilingStore(Protocol):
    """Ceilings shared by the instances that drive a key in turn (keyed by fingerprint)."""

    def read(self, key_fingerprint: str) -> int: ...

    def write(self, key_fingerprint: str, ceiling: int) -> None:
        """Store ``ceiling`` unless a higher one is stored; durable before it returns."""


class NonceSource:
    def __init__(self, path: Path | None, *, now_ms: Callable[[], int] | None = None,
                 store: CeilingStore | None = None, fingerprint: str = "") -> None:
        self._path = path
        self._store = store
        self._fingerprint = fingerprint
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.Lock()  # hands out nonces; taken before ``_write_lock``
        self._write_lock = threading.Lock()  # writes the ceiling; owns ``_ceiling``
        self._renewing = False  # a ceiling is being written ahead of need
        self._ceiling = self._read_ceiling()
        self._last = self._ceiling  # a restart resumes above anything handed out before

    def next(self) -> int:
        with self._lock:
            nonce = max(self._last + 1, self._now_ms())
            if nonce > self._ceiling:  # never above what is on disk: write it in place first
                self._write_ceiling(nonce + LEASE)
            elif nonce > self._ceiling - RENEW_AHEAD and not self._renewing:
                self._renewing = True
                _renewal_thread().submit(self._renew, nonce + LEASE)
            self._last = nonce
            return nonce

    def _renew(self, ceiling: int) -> None:
        try:
            self._write_ceiling(ceiling)
        except Exception as exc:  # ``next`` writes it in place, and raises, if it is needed
            log.warning("could not write the nonce ceiling of key %s ahead of need: %s",
                        self._fingerprint or "(unnamed)", exc)
        finally:
            self._renewing = False

    def refresh(self, store: CeilingStore | None = None) -> None:
        """Start above the shared ceiling (another instance may have used the key since)."""
        with self._lock:
            if store is not None:
                self._store = store
            ceiling = self._read_ceiling()
            with self._write_lock:
                if ceiling > self._ceiling:
                    self._ceiling = ceiling
            self._last = max(self._last, ceiling)

    def _read_ceiling(self) -> int:
        shared = self._store.read(self._fingerprint) if self._store is not None else 0
        if self._path is None:
            return shared
        try:
            return max(shared, int(self._path.read_text().strip() or 0))
        except FileNotFoundError:
            return shared

    def _write_ceiling(self, ceiling: int) -> None:
        """Make ``ceiling`` durable, then the limit of ``next`` (never lowers it)."""
        with self._write_lock:
            if ceiling <= self._ceiling:  # a higher one was written meanwhile
                return
            if self._path is not None:
                tmp = self._path.with_suffix(".tmp")
                with open(tmp, "w") as fh:
                    fh.write(str(ceiling))
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self._path)
            if self._store is not None:
                self._store.write(self._fingerprint, ceiling)
            self._ceiling = ceiling


class NonceRegistry:
    """One NonceSource per key, persisted under ``state_dir/nonces``.

    Keys are identified by a hash of the public API key, never the key itself.
    """

    def __init__(self, state_dir: Path | None) -> None:
        self._dir = None if state_dir is None else Path(state_dir) / "nonces"
        self._sources: dict[str, NonceSource] = {}
        self._lock = threading.Lock()
        self._store: CeilingStore | None = None

    def share_ceilings(self, store: CeilingStore) -> None:
        """Keep every key's ceiling in ``store`` too (several instances, one at a time)."""
        with self._lock:
            self._store = store
            sources = list(self._sources.values())
        for source in sources:
            source.refresh(store)

    def refresh(self, key_id: str) -> None:
        """Before driving a key another instance may have used: nonces above its ceiling."""
        self.for_key(key_id).refresh()

    def for_key(self, key_id: str) -> NonceSource:
        """The key's nonce source. Raises ConfigError when another process uses the key with
        the same state folder: the venue checks nonces in order, so one key, one process."""
        with self._lock:
            source = self._sources.get(key_id)
            if source is None:
                path = None
                if self._dir is not None:
                    self._dir.mkdir(parents=True, exist_ok=True)
                    path = self._dir / f"{key_fingerprint(key_id)}.nonce"
                    _hold_for_this_process(path.with_suffix(".lock"))
                source = self._sources[key_id] = NonceSource(
                    path, store=self._store, fingerprint=key_fingerprint(key_id))
            return source


# Lock files this process holds, by path, open for its whole life: the kernel releases them
# when the process ends, however it ends (SIGKILL included).
_HELD: dict[Path, int] = {}
_HELD_LOCK = threading.Lock()


def _hold_for_this_process(path: Path) -> None:
    with _HELD_LOCK:
        if path in _HELD:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigError(
                f"an API key (fingerprint {path.stem}) is already in use by another alert-router "
                f"process (pid {holder}) with the state folder {path.parent.parent}: the venue "
                "checks nonces in order, so one key serves one process at a time. Stop the "
                "other process (for example a running `alert-router serve`) or give this one "
                "its own API key"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _HELD[path] = fd


def key_fingerprint(public_key: str) -> str:
    """A short stable id for an API key, safe to write to disk and logs."""
    return hashlib.sha256(public_key.encode()).hexdigest()[:16]
