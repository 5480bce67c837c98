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
