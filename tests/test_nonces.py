"""The nonce source: strictly increasing under concurrency, across restarts and clock steps."""

from __future__ import annotations

import threading

from router_core.nonces import LEASE, NonceRegistry, NonceSource


def test_strictly_increasing_under_threads(tmp_path):
    source = NonceSource(tmp_path / "k.nonce")
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(1000):
            nonce = source.next()
            with lock:
                seen.append(nonce)

    threads = [threading.Thread(target=take) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 10_000


def test_restart_resumes_above_everything_handed_out(tmp_path):
    path = tmp_path / "k.nonce"
    first = NonceSource(path)
    burst = [first.next() for _ in range(1000)]
    again = NonceSource(path)  # a new process reading the same file
    assert again.next() > max(burst)


def test_backwards_clock_step_still_increases(tmp_path):
    now = [1_700_000_000_000]
    source = NonceSource(tmp_path / "k.nonce", now_ms=lambda: now[0])
    before = source.next()
    now[0] -= 10_000  # the clock jumps back ten seconds
    assert source.next() > before


def test_follows_the_clock_when_it_can(tmp_path):
    now = [1_700_000_000_000]
    source = NonceSource(None, now_ms=lambda: now[0])
    assert source.next() == now[0]
    now[0] += 5
    assert source.next() == now[0]


def test_ceiling_written_once_per_lease(tmp_path):
    now = [1_000]
    path = tmp_path / "k.nonce"
    source = NonceSource(path, now_ms=lambda: now[0])
    source.next()
    ceiling = int(path.read_text())
    assert ceiling == 1_000 + LEASE
    for _ in range(100):
        source.next()
    assert int(path.read_text()) == ceiling


def test_registry_keys_files_by_fingerprint_not_key(tmp_path):
    registry = NonceRegistry(tmp_path)
    source = registry.for_key("my-public-api-key")
    source.next()
    assert registry.for_key("my-public-api-key") is source
    names = [p.name for p in (tmp_path / "nonces").iterdir()]
    assert names and all("my-public-api-key" not in n for n in names)


def test_a_second_process_on_the_same_key_is_refused(tmp_path):
    import subprocess
    import sys

    import pytest

    from router_core.errors import ConfigError

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from router_core.nonces import NonceRegistry; "
         f"NonceRegistry({str(tmp_path)!r}).for_key('shared-key'); print('held', flush=True); "
         "time.sleep(30)"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(ConfigError, match=rf"in use by another alert-router process \(pid "
                                              rf"{holder.pid}\)"):
            NonceRegistry(tmp_path).for_key("shared-key")
        NonceRegistry(tmp_path).for_key("another-key")  # other keys are free
    finally:
        holder.kill()
        holder.wait()
    NonceRegistry(tmp_path).for_key("shared-key")  # released when the holder died


def test_one_process_may_open_its_own_key_twice(tmp_path):
    NonceRegistry(tmp_path).for_key("k")
    NonceRegistry(tmp_path).for_key("k")  # an in-process restart, as tests do


def _wait_for(predicate, seconds: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the background renewal never finished"
        time.sleep(0.005)


def test_the_next_ceiling_is_written_ahead_of_need_off_the_callers_thread(tmp_path, monkeypatch):
    import os

    from router_core.nonces import RENEW_AHEAD

    fsynced_by: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        fsynced_by.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    now = [1_000]
    path = tmp_path / "k.nonce"
    source = NonceSource(path, now_ms=lambda: now[0])
    source.next()  # the first ceiling: nothing covers this nonce yet, so written in place
    assert fsynced_by == [threading.current_thread().name]
    now[0] = 1_000 + LEASE - RENEW_AHEAD + 1  # past half the lease
    assert source.next() == now[0]
    _wait_for(lambda: int(path.read_text()) == now[0] + LEASE)
    assert len(fsynced_by) == 2 and fsynced_by[1].startswith("nonce-ceilings")
    for _ in range(100):  # covered: nothing more is written
        source.next()
    assert len(fsynced_by) == 2


def test_no_nonce_is_handed_out_above_the_ceiling_on_disk(tmp_path):
    now = [1_000]
    path = tmp_path / "k.nonce"
    source = NonceSource(path, now_ms=lambda: now[0])
    for step in range(200):  # a clock that outruns any renewal: 7 s a request
        now[0] += 7_000
        nonce = source.next()
        assert int(path.read_text()) >= nonce, step
    restarted = NonceSource(path)
    assert restarted.next() > nonce


def test_a_failed_renewal_is_written_in_place_when_it_is_needed(tmp_path, caplog):
    now = [1_000]
    path = tmp_path / "k.nonce"
    source = NonceSource(path, now_ms=lambda: now[0], fingerprint="abcd")
    source.next()
    path.with_suffix(".tmp").mkdir()  # the ceiling cannot be written while this is in the way
    now[0] = 1_000 + LEASE - 1
    source.next()  # below the ceiling: handed out, renewal fails in the background
    _wait_for(lambda: "could not write the nonce ceiling of key abcd" in caplog.text)
    path.with_suffix(".tmp").rmdir()
    now[0] = 1_000 + LEASE + 5
    assert source.next() == now[0]  # written in place first
    assert int(path.read_text()) == now[0] + LEASE
