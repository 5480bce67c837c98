"""The "Several instances" example of docs/operations.md: its files hold together, and it works.

docs/examples/cluster/ holds three instance configs and an nginx snippet. Checked here: every
config loads, the instances differ in id, port and state folder and nothing else, nginx's
upstream names exactly their ports, and (when nginx is installed) nginx accepts the snippet and,
in front of three real ``serve`` instances on a throw-away PostgreSQL, keeps answering 200 to
alerts while one instance is SIGKILLed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "cluster"
INSTANCES = ("a", "b", "c")
NO_NGINX = "nginx is not installed (apt-get install nginx); under CI=true this fails"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _configs() -> dict[str, dict[str, Any]]:
    return {name: tomllib.loads((EXAMPLE / f"router-{name}.toml").read_text())
            for name in INSTANCES}


def _upstream_ports(text: str) -> list[int]:
    block = re.search(r"upstream alert_router \{(.*?)\}", text, re.S)
    assert block is not None, "nginx.conf: no upstream alert_router"
    return [int(port) for port in re.findall(r"server 127\.0\.0\.1:(\d+)", block.group(1))]


def test_the_instance_configs_load_and_differ_only_where_they_must() -> None:
    from router_core.config import load_config
    from router_core.plugins import make_plugin_manager

    brokers = make_plugin_manager(["paper"]).brokers
    configs = _configs()
    for name in INSTANCES:
        config = load_config(EXAMPLE / f"router-{name}.toml", brokers)
        assert config.journal.url and config.journal.url.startswith("postgresql://")
        assert config.cluster.instance_id == f"router-{name}"
    ids = {c["cluster"]["instance_id"] for c in configs.values()}
    ports = {c["server"]["port"] for c in configs.values()}
    states = {c["router"]["state_dir"] for c in configs.values()}
    assert len(ids) == len(ports) == len(states) == len(INSTANCES)

    def shared(c: dict[str, Any]) -> dict[str, Any]:
        c = json.loads(json.dumps(c))
        del c["cluster"]["instance_id"], c["server"]["port"], c["router"]["state_dir"]
        return c

    first = shared(configs["a"])
    assert all(shared(c) == first for c in configs.values()), "instances must share the rest"


def test_nginx_sends_the_webhook_to_exactly_the_instances_ports() -> None:
    text = (EXAMPLE / "nginx.conf").read_text()
    ports = sorted(c["server"]["port"] for c in _configs().values())
    assert sorted(_upstream_ports(text)) == ports
    # a POST is passed to the next instance only because the journal makes it safe
    assert re.search(r"proxy_next_upstream [^;]*non_idempotent", text)
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", text)


def _nginx_wrapper(tmp: Path, snippet: Path) -> Path:
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / folder).mkdir(exist_ok=True)
        (tmp / folder).chmod(0o777)
    wrapper = tmp / "nginx-test.conf"
    wrapper.write_text(f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {snippet};
}}
""")
    return wrapper


@pytest.mark.skipif(NGINX is None and not os.environ.get("CI"), reason=NO_NGINX)
def test_nginx_accepts_the_example(tmp_path: Path) -> None:
    assert NGINX is not None
    wrapper = _nginx_wrapper(tmp_path, EXAMPLE / "nginx.conf")
    checked = subprocess.run([NGINX, "-t", "-c", str(wrapper), "-p", str(tmp_path)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def _post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.slow
@pytest.mark.skipif(NGINX is None and not os.environ.get("CI"), reason=NO_NGINX)
def test_the_example_keeps_answering_when_an_instance_dies(tmp_path: Path, pg_url: str) -> None:
    """The example as written, on free ports and a throw-away database: alerts through nginx
    are answered 200 and executed before and after one instance is SIGKILLed."""
    assert NGINX is not None
    sys.path.insert(0, str(ROOT / "tests"))
    from chaos import Instance, free_port, wait_http

    ports = {name: free_port() for name in INSTANCES}
    instances = []
    env = {**__import__("os").environ, "ALERT_ROUTER_PASSPHRASE": "example-passphrase",
           "ALERT_ROUTER_ADMIN_TOKEN": "example-admin-token"}
    env.pop("ALERT_ROUTER_DB_PASSWORD", None)
    for name in INSTANCES:
        text = (EXAMPLE / f"router-{name}.toml").read_text()
        text = re.sub(r'url = "postgresql://[^"]*"', f'url = "{pg_url}"', text)
        text = text.replace('password_env = "ALERT_ROUTER_DB_PASSWORD"\n', "")
        text = re.sub(r"port = \d+", f"port = {ports[name]}", text)
        config = tmp_path / f"router-{name}.toml"
        config.write_text(text)
        instances.append(Instance(name, ports[name], config, tmp_path / f"{name}.log"))
    nginx_port = free_port()
    snippet = (EXAMPLE / "nginx.conf").read_text().replace("listen 8080;",
                                                           f"listen 127.0.0.1:{nginx_port};")
    for name, default in zip(INSTANCES, (8081, 8082, 8083), strict=True):
        snippet = snippet.replace(f"127.0.0.1:{default} ", f"127.0.0.1:{ports[name]} ")
    (tmp_path / "cluster.conf").write_text(snippet)
    wrapper = _nginx_wrapper(tmp_path, tmp_path / "cluster.conf")
    nginx = None
    try:
        for instance in instances:
            instance.start(env)
        for instance in instances:
            wait_http(f"{instance.url}/healthz", 60, instance.process)
        nginx = subprocess.Popen([NGINX, "-c", str(wrapper), "-p", str(tmp_path),
                                  "-g", "daemon off;"])
        wait_http(f"http://127.0.0.1:{nginx_port}/healthz", 20, nginx)
        url = f"http://127.0.0.1:{nginx_port}/webhook"

        def alert(n: int) -> dict[str, Any]:
            return {"ticker": "BTCUSD", "action": "buy", "quantity": "0.01", "price": "100",
                    "id": f"ops-example-{n}", "passphrase": "example-passphrase"}

        assert [_post(url, alert(n)) for n in range(6)] == [200] * 6
        instances[0].kill()  # what a crash looks like from outside
        answers = [_post(url, alert(n)) for n in range(6, 12)]
        assert answers == [200] * 6, answers
        # Every alert answered 200 gets executed: the dead instance's accounts move to the
        # others after lease_seconds, and alerts it had accepted are adopted.
        import psycopg

        deadline = time.monotonic() + 60
        while True:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                states = dict(conn.execute("SELECT intent_key, state FROM alerts").fetchall())
            if len(states) == 12 and set(states.values()) == {"done"}:
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.5)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for instance in instances:
            if instance.process is not None and instance.process.poll() is None:
                instance.process.terminate()
                instance.process.wait(20)
