"""``alert-router reload``: make a running ``serve`` re-read its config (SIGHUP)."""

from __future__ import annotations

import argparse

HELP = "check the config file, then make the running server re-read it"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default=None,
                        help="the config file the server runs with (finds its state folder)")


def run(args: argparse.Namespace) -> int:
    import os
    import signal
    from pathlib import Path

    from router_core.cli.serve import STATE_DIR, pid_path
    from router_core.config import load_router_settings

    # A file that does not load is refused here, before the server is bothered (it would
    # keep its running config anyway, and only its log would say why).
    if args.config:
        from router_core.config import load_config
        from router_core.plugins import make_plugin_manager
        from router_core.router import enabled_plugins

        load_config(args.config, make_plugin_manager(enabled_plugins(args.config)).brokers)
    state_dir = (load_router_settings(args.config).state_dir if args.config
                 else Path.cwd() / STATE_DIR)
    path = pid_path(state_dir)
    try:
        pid = int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        print(f"alert-router reload: no running server found ({path} is missing or unreadable)")
        return 1
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print(f"alert-router reload: the server {pid} named in {path} is not running")
        return 1
    print(f"alert-router reload: asked server {pid} to re-read its config; its log says "
          "whether the new one was taken")
    return 0
