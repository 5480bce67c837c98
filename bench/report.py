"""The run's results as ratios, targets and a Markdown table."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "in_process_p50": "router in-process p50 <= 1.2x ccxt create_order p50",
    "in_process_throughput": "router in-process orders/s with 50 in flight >= ccxt's",
    "fan_out_50": "fan-out to 50 accounts p50 <= 3x the single-account p50",
    # Restated beside the original (bench/README.md, "Fan-out target"): the fake answers one
    # request at a time on 2 shared cores, so no client gets 50 orders within 3x of one.
    "fan_out_50_vs_floor": "fan-out to 50 accounts p50 <= 3x the floor's own 50-account "
                           "fan-out p50 (same run)",
    "webhook_ack_p99": "webhook ack p99 < 25 ms for a burst of 100",
    # Issue 17's targets, as ratios in the same run.
    "cpu_per_order_vs_ccxt": "CPU per order, in-process <= 1.5x ccxt's",
    "webhook_throughput_vs_ccxt": "webhook orders/s with N in flight >= 0.8x ccxt's in-process "
                                  "figure",
    "webhook_ack_vs_server_floor": "webhook ack p99, burst of 100 <= 3x the trivial-server "
                                   "floor (same run)",
    "fan_out_vs_ccxt": "one alert to 50 accounts p50 <= 1.2x ccxt's 50-account gather",
    "realistic_fan_out": "realistic mode (venue answers after 150 ms): one alert to 50 accounts "
                         "p50 <= 1.1x one order's p50",
    "help": "`alert-router --help` < 300 ms",
    "serve_rss": "serve RSS with both Kraken plugins < 80 MB",
}


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def _floor_on_slow_fake(real: dict[str, Any]) -> str:
    """The hand-signed floor's own fan-out ÷ one order on the same slow fake, where measured:
    what the fake adds when 50 requests arrive together, which no client can remove."""
    floor = real.get("reference", {}).get("floor")
    if not floor:
        return ""
    ratio = _ratio(floor["fan_out"]["p50_ms"], floor["one_order"]["p50_ms"])
    return f" (the floor on the same fake: {_fmt(ratio)}x)"


def summarise(r: dict[str, Any]) -> dict[str, Any]:
    floor, ccxt, router = r["floor"], r["ccxt"], r["router"]
    hook, start = r["webhook"], r["startup"]
    one = router["fan_out"]["1"]["p50_ms"]
    widest = str(max(int(k) for k in router["fan_out"]))
    floor_widest = floor["fan_out"][widest]["p50_ms"]
    floor_ratio = _ratio(floor_widest, floor["fan_out"]["1"]["p50_ms"])
    width = "" if widest == "50" else f"measured at {widest} accounts (quick run); "
    checks = {
        "in_process_p50": (router["sequential"]["p50_ms"], 1.2 * ccxt["sequential"]["p50_ms"],
                           "<=", ""),
        "in_process_throughput": (router["in_flight"]["per_second"],
                                  ccxt["in_flight"]["per_second"], ">=", _floors_in_flight(r)),
        "fan_out_50": (router["fan_out"][widest]["p50_ms"], 3 * one, "<=",
                       f"{width}the floor's own {widest}-account p50 is {_fmt(floor_ratio)}x "
                       "its 1-account p50"),
        "fan_out_50_vs_floor": (router["fan_out"][widest]["p50_ms"], 3 * floor_widest, "<=",
                                f"{width}restated: see bench/README.md"),
        "webhook_ack_p99": (hook["burst"]["ack_p99_ms"], 25.0, "<", _server_floor_note(hook)),
        "cpu_per_order_vs_ccxt": (router["sequential"]["cpu_ms_per_order"],
                                  1.5 * ccxt["sequential"]["cpu_ms_per_order"], "<=",
                                  _less_journal_floor(r)),
        "webhook_throughput_vs_ccxt": (hook["in_flight"]["per_second"],
                                       0.8 * ccxt["in_flight"]["per_second"], ">=",
                                       _webhook_references(r)),
        "webhook_ack_vs_server_floor": (hook["burst"]["ack_p99_ms"],
                                        3 * hook["burst"]["server_floor"]["ack_p99_ms"], "<=",
                                        _burst_without_journal(r)),
        "fan_out_vs_ccxt": (router["fan_out"][widest]["p50_ms"],
                            1.2 * ccxt["fan_out"][widest]["p50_ms"], "<=",
                            width.removesuffix("; ")),
        "help": (start["alert_router_help_ms"], 300.0, "<", ""),
        "serve_rss": (start["serve_rss_ready_mb"], 80.0, "<", ""),
    }
    if "realistic" in r:
        real = r["realistic"]
        checks["realistic_fan_out"] = (
            real["fan_out"]["p50_ms"], 1.1 * real["one_order"]["p50_ms"], "<=",
            f"{real['accounts']} accounts, {_fmt(real['latency_ms'])} ms venue latency; "
            f"{_fmt(_ratio(real['fan_out']['p50_ms'], real['one_order']['p50_ms']))}x"
            + _floor_on_slow_fake(real))
    targets = {}
    for name, (value, limit, op, note) in checks.items():
        met = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[op]
        targets[name] = {"target": TARGETS[name], "value": value, "limit": round(limit, 3),
                         "met": met, "note": note}
    return {"targets": targets}


def _less_journal_floor(r: dict[str, Any]) -> str:
    """The CPU target's note: the router's CPU per order without what the durable journal
    costs at least (ccxt journals nothing), against ccxt's."""
    floor = r.get("profile", {}).get("journal_floor")
    if floor is None:
        return ""
    ccxt = r["ccxt"]["sequential"]["cpu_ms_per_order"]
    rest = r["router"]["sequential"]["cpu_ms_per_order"] - floor["cpu_ms_per_alert"]
    least = r["floor"]["sequential"]["cpu_ms_per_order"] + floor["cpu_ms_per_alert"]
    note = (f"less the durable journal's floor ({_fmt(floor['cpu_ms_per_alert'])} ms, "
            f"bench/journal_floor.py): {_fmt(round(rest, 3))} ms, {_fmt(_ratio(rest, ccxt))}x "
            f"ccxt's; the floor client plus that journal floor alone: {_fmt(round(least, 3))} ms, "
            f"{_fmt(_ratio(least, ccxt))}x ccxt's")
    without = _without_journal(r)
    if without is not None:
        cpu = without["sequential"]["cpu_ms_per_order"]
        note += (f"; the router with no journal at all (experiment below): {_fmt(cpu)} ms, "
                 f"{_fmt(_ratio(cpu, ccxt))}x ccxt's")
    return note


def _without_journal(r: dict[str, Any], table: str = "experiments") -> dict[str, Any] | None:
    """The row of the router with its journal kept in memory in ``table`` (the in-process
    experiments, or ``webhook_experiments``: serve's), if it ran."""
    return next((x for name, x in r.get(table, {}).items()
                 if name.startswith("no journal")), None)


def _floors_in_flight(r: dict[str, Any]) -> str:
    """The in-flight target's note: CPU per order with 50 in flight, against the least a
    client with a durable journal could spend (the floor client plus the journal's floor with
    fifty alerts per transaction)."""
    floor = r.get("profile", {}).get("journal_floor_50")
    if floor is None:
        return ""
    least = r["floor"]["in_flight"]["cpu_ms_per_order"] + floor["cpu_ms_per_alert"]
    return (f"CPU ms per order with 50 in flight: router "
            f"{_fmt(r['router']['in_flight']['cpu_ms_per_order'])}, ccxt "
            f"{_fmt(r['ccxt']['in_flight']['cpu_ms_per_order'])}, the floor client plus the "
            f"journal's floor at 50 alerts per transaction {_fmt(round(least, 3))}"
            + _in_flight_without_journal(r))


def _in_flight_without_journal(r: dict[str, Any]) -> str:
    without = _without_journal(r)
    if without is None:
        return ""
    rate = without["in_flight"]["per_second"]
    return (f"; the router with no journal at all (experiment below): {_fmt(rate)}/s, "
            f"{_fmt(_ratio(rate, r['ccxt']['in_flight']['per_second']))}x ccxt's")


def _webhook_references(r: dict[str, Any]) -> str:
    """The webhook in-flight target's note: the forwarding floor (what any Python webhook
    pays to turn a POST into an order) and serve with no journal, both ÷ ccxt's in-process."""
    ccxt = r["ccxt"]["in_flight"]["per_second"]
    parts = []
    forwarding = r.get("webhook_floor")
    if forwarding is not None:
        rate = forwarding["in_flight"]["per_second"]
        parts.append(f"the forwarding floor (`server_floor.py --forward`): {_fmt(rate)}/s, "
                     f"{_fmt(_ratio(rate, ccxt))}x ccxt's")
    without = _without_journal(r, "webhook_experiments")
    if without is not None:
        rate = without["in_flight"]["per_second"]
        parts.append(f"serve with no journal at all (webhook experiment below): "
                     f"{_fmt(rate)}/s, {_fmt(_ratio(rate, ccxt))}x ccxt's")
    return "; ".join(parts)


def _burst_without_journal(r: dict[str, Any]) -> str:
    without = _without_journal(r, "webhook_experiments")
    if without is None:
        return ""
    trivial = r["webhook"]["burst"]["server_floor"]["ack_p99_ms"]
    p99 = without["burst"]["ack_p99_ms"]
    return (f"serve with no journal at all (webhook experiment below): p99 {_fmt(p99)} ms, "
            f"{_fmt(_ratio(p99, trivial))}x the trivial server")


def journal_floor_line(p: dict[str, Any]) -> str:
    """The journal's stages against the same rows written by hand (bench/journal_floor.py)."""
    jf = p["journal_floor"]
    ours = sum(ms for stage, ms in p["stages_cpu_ms_per_alert"].items()
               if stage.startswith("journal:"))
    rest = round(p["cpu_ms_per_alert"] - jf["cpu_ms_per_alert"], 3)
    return (f"The durable journal's floor: one alert's rows (claim, leg intent fsynced, outcome "
            f"with holdings, final state) written by hand on a bare sqlite3 connection to a "
            f"journal of the same schema, {jf['transactions_per_alert']} transactions and "
            f"{jf['fsyncs_per_alert']} fsync per alert (bench/journal_floor.py): "
            f"{_fmt(jf['cpu_ms_per_alert'])} ms CPU, {_fmt(jf['wall_ms_per_alert'])} ms wall "
            f"per alert. The journal's stages above: {_fmt(round(ours, 3))} ms CPU "
            f"({_fmt(_ratio(ours, jf['cpu_ms_per_alert']))}x the floor). The router's CPU per "
            f"alert less that floor: {_fmt(rest)} ms.")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _row(label: str, floor: float | None, ccxt: float | None, router: float | None,
         note: str = "") -> str:
    return (f"| {label} | {_fmt(floor)} | {_fmt(ccxt)} | {_fmt(router)} | "
            f"{_fmt(_ratio(router, floor))} | {_fmt(_ratio(router, ccxt))} | {note} |")


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    floor, ccxt, router, hook, start = r["floor"], r["ccxt"], r["router"], r["webhook"], \
        r["startup"]
    targets = r["summary"]["targets"]
    fs, cs, rs, ws = floor["sequential"], ccxt["sequential"], router["sequential"], \
        hook["sequential"]
    fi, ci, ri, wi = floor["in_flight"], ccxt["in_flight"], router["in_flight"], \
        hook["in_flight"]
    b = hook["burst"]
    keys = r["params"]["keys"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    lines = [
        f"Run {r['started_at']} ({r['params']['mode']}): {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB, Python {m['python']}, load average at start "
        f"{' / '.join(str(x) for x in m['load_average_at_start'])}. {packages}.",
        "",
        "Every figure is measured in this run against the same loopback fake of Kraken spot "
        "(its own process, rate counters off); ratios are router ÷ floor and router ÷ ccxt "
        "(for orders/s, below 1 is slower). Latencies in ms, memory in MB.",
        "",
        "| figure | floor (hand-signed aiohttp) | ccxt | router | ÷ floor | ÷ ccxt | note |",
        "|---|---:|---:|---:|---:|---:|---|",
        _row("one order, p50 (in-process: accept + execute, durable journal)", fs["p50_ms"],
             cs["p50_ms"], rs["p50_ms"]),
        _row("one order, p99 (in-process)", fs["p99_ms"], cs["p99_ms"], rs["p99_ms"]),
        _row("CPU ms per order (client process)", fs["cpu_ms_per_order"],
             cs["cpu_ms_per_order"], rs["cpu_ms_per_order"]),
        _row(f"orders/s, {keys} in flight ({keys} keys / accounts)", fi["per_second"],
             ci["per_second"], ri["per_second"]),
        _row(f"p99 with {keys} in flight", fi["p99_ms"], ci["p99_ms"], ri["p99_ms"]),
        _row("webhook ?wait=true, p50", fs["p50_ms"], cs["p50_ms"], ws["p50_ms"],
             "HTTP POST to `alert-router serve`"),
        _row("webhook ?wait=true, p99", fs["p99_ms"], cs["p99_ms"], ws["p99_ms"]),
        _row("webhook CPU ms per order (serve process)", fs["cpu_ms_per_order"],
             cs["cpu_ms_per_order"], ws["serve_cpu_ms_per_order"]),
        _row(f"webhook orders/s, {keys} in flight", fi["per_second"], ci["per_second"],
             wi["per_second"]),
        _row(f"webhook ack p50, burst of {b['alerts']}", fs["p50_ms"], cs["p50_ms"],
             b["ack_p50_ms"], "vs one order's p50"),
        _row(f"webhook ack p99, burst of {b['alerts']}", fs["p99_ms"], cs["p99_ms"],
             b["ack_p99_ms"], f"warm keep-alive connections; all executed after "
             f"{_fmt(b['all_executed_ms'])} ms"),
    ]
    if "server_floor" in b:  # uvicorn + httptools answering the same burst, nothing else
        sf = b["server_floor"]
        lines.append(_row(f"server floor: trivial ASGI app, ack p99, burst of {b['alerts']}",
                          fs["p99_ms"], cs["p99_ms"], sf["ack_p99_ms"],
                          f"`server_floor.py`; the webhook's p99 is "
                          f"{_fmt(b['ack_p99_ms'] / sf['ack_p99_ms'])}x this"))
    if "webhook_floor" in r:  # a trivial app that turns each POST into one order
        wf = r["webhook_floor"]["in_flight"]
        lines.append(_row(f"forwarding floor: trivial ASGI app, one hand-signed order per "
                          f"POST, orders/s {keys} in flight", fi["per_second"], ci["per_second"],
                          wf["per_second"],
                          f"`server_floor.py --forward`; its CPU "
                          f"{_fmt(wf['serve_cpu_ms_per_order'])} ms per order; the webhook's "
                          f"orders/s are {_fmt(_ratio(wi['per_second'], wf['per_second']))}x "
                          f"this"))
    one = {"floor": floor["fan_out"]["1"]["p50_ms"], "ccxt": ccxt["fan_out"]["1"]["p50_ms"],
           "router": router["fan_out"]["1"]["p50_ms"]}
    for k in router["fan_out"]:
        f, c, o = (floor["fan_out"][k]["p50_ms"], ccxt["fan_out"][k]["p50_ms"],
                   router["fan_out"][k]["p50_ms"])
        lines.append(_row(f"one alert to {k} account(s), p50", f, c, o,
                          f"÷ own 1-account p50: floor {_fmt(_ratio(f, one['floor']))}, "
                          f"ccxt {_fmt(_ratio(c, one['ccxt']))}, "
                          f"router {_fmt(_ratio(o, one['router']))}"))
    if "realistic" in r:  # the fake answers after latency_ms (bench/latent_fake.py)
        real = r["realistic"]
        ref = real.get("reference", {})  # floor and ccxt on the same slow fake (older runs: none)
        f_real, c_real = ref.get("floor"), ref.get("ccxt")

        def p50(found: dict[str, Any] | None, what: str) -> float | None:
            return found[what]["p50_ms"] if found else None

        def fan_ratio(found: dict[str, Any] | None) -> float | None:
            return _ratio(p50(found, "fan_out"), p50(found, "one_order"))
        lines += [
            _row(f"realistic ({_fmt(real['latency_ms'])} ms venue latency): one order, p50",
                 p50(f_real, "one_order"), p50(c_real, "one_order"),
                 real["one_order"]["p50_ms"],
                 f"in-process; p99 {_fmt(real['one_order']['p99_ms'])}"),
            _row(f"realistic: one alert to {real['accounts']} accounts, p50",
                 p50(f_real, "fan_out"), p50(c_real, "fan_out"), real["fan_out"]["p50_ms"],
                 f"÷ own one order's p50: floor {_fmt(fan_ratio(f_real))}, "
                 f"ccxt {_fmt(fan_ratio(c_real))}, router {_fmt(fan_ratio(real))}; "
                 f"router p99 {_fmt(real['fan_out']['p99_ms'])}"),
        ]
    lines += [
        _row("cold start: `alert-router --help` vs `import aiohttp` / `import ccxt`",
             start["floor_import_ms"], start["ccxt_import_ms"], start["alert_router_help_ms"],
             f"bare `python -c pass`: {_fmt(start['python_bare_ms'])} ms"),
        _row("ready: `serve` until /healthz ok vs first order / load_markets",
             floor["ready_ms"], ccxt["ready_ms"], start["serve_ready_ms"],
             "1 spot + 1 futures account start"),
        _row("RSS: serve, both Kraken plugins, 1 + 1 accounts (ready)", floor["rss_mb"],
             ccxt["rss_mb"], start["serve_rss_ready_mb"], "floor/ccxt: after their run"),
        _row(f"RSS: serve, {keys + 1} spot + 1 futures accounts, after the webhook run",
             floor["rss_mb"], ccxt["rss_mb"], hook["rss_end_mb"],
             f"when ready: {_fmt(hook['rss_ready_mb'])}"),
    ]
    for name, label in (
            ("venue-http", "router_core.VenueHttp (the Kraken plugins' request path)"),
            ("httpx-router-transport",
             "httpx on router_core.AiohttpTransport (the plugins' path before VenueHttp)"),
            ("httpx-httpcore", "httpx on its httpcore pool (the router's transport before)")):
        if name in r:
            t = r[name]
            lines.append(_row(f"transport: {label}, p50", fs["p50_ms"], cs["p50_ms"],
                              t["sequential"]["p50_ms"], "same signing code as the floor"))
            lines.append(_row(f"transport: {label}, orders/s {keys} in flight", fi["per_second"],
                              ci["per_second"], t["in_flight"]["per_second"],
                              f"p99 {_fmt(t['in_flight']['p99_ms'])} ms"))
    lines += ["", "| target | value | limit | met | note |", "|---|---:|---:|---|---|"]
    for t in targets.values():
        lines.append(f"| {t['target']} | {_fmt(t['value'])} | {_fmt(t['limit'])} | "
                     f"{'yes' if t['met'] else '**no**'} | {t.get('note', '')} |")
    p = r["profile"]
    lines += ["", f"Where one in-process alert's {_fmt(p['total_ms_per_alert'])} ms go "
              f"(sequential, {p['alerts']} alerts, stage timers; SQLite WAL FULL commit on "
              f"this disk alone: {_fmt(p['sqlite_fsync_commit_ms'])} ms):", "",
              "| stage | ms per alert | calls per alert |", "|---|---:|---:|"]
    for stage, ms in sorted(p["stages_ms_per_alert"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {stage} | {_fmt(ms)} | {_fmt(p['calls_per_alert'].get(stage))} |")
    lines += ["", "Stage CPU per alert (ms): " + ", ".join(
        f"{stage} {_fmt(ms)}" for stage, ms in sorted(
            p["stages_cpu_ms_per_alert"].items(), key=lambda kv: -kv[1]))
        + f"; total {_fmt(p['cpu_ms_per_alert'])}."]
    if "journal_floor" in p:
        lines += ["", journal_floor_line(p)]
    if "claims_100" in p:
        c, a = p["claims_100"], p["accept_burst_100"]
        lines += ["", f"Journal: {c['claims']} claims one after another (one fsync each) took "
                  f"{_fmt(c['one_after_another_ms'])} ms, the same number arriving together "
                  f"(group commit) {_fmt(c['together_group_commit_ms'])} ms. 100 alerts "
                  f"accepted at once in-process (parse + claim, as the webhook does, nothing "
                  f"executed): ack p50 "
                  f"{_fmt(a['ack_p50_ms'])} ms, p99 {_fmt(a['ack_p99_ms'])} ms"
                  + (f"; parsing and validating 100 alerts alone, one after another: "
                     f"{_fmt(a['parse_validate_ms'])} ms of CPU"
                     if "parse_validate_ms" in a else "") + "."]
    packages_time = p.get("profiled_own_ms_per_alert_by_package")
    if packages_time:
        total = sum(packages_time.values()) or 1.0
        lines += ["", "cProfile own time per alert by package (profiled, so inflated; read the "
                  "shares): " + ", ".join(f"{name} {_fmt(ms)} ms ({100 * ms / total:.0f}%)"
                                          for name, ms in packages_time.items()
                                          if ms / total >= 0.01) + "."]
    if "experiments" in r:
        rounds = next(iter(r["experiments"].values())).get("rounds", 1)
        lines += ["", "The in-process router with one thing changed: what a change would buy "
                  "(journal without fsync), what the durable journal costs in all (no journal: "
                  "nothing would survive a crash or stay idempotent) or what one bought (the "
                  "transport before); same run, patched in the benchmark process only, none is "
                  "a product mode; median "
                  f"of {rounds} round(s) in alternating order:", "",
                  "| router variant | p50 | CPU ms/order | orders/s, "
                  f"{keys} in flight | one alert to {max(r['params']['fan_out'])} accounts, p50 |",
                  "|---|---:|---:|---:|---:|"]
        for name, x in r["experiments"].items():
            lines.append(f"| {name} | {_fmt(x['sequential']['p50_ms'])} | "
                         f"{_fmt(x['sequential']['cpu_ms_per_order'])} | "
                         f"{_fmt(x['in_flight']['per_second'])} | "
                         f"{_fmt(x['fan_out']['p50_ms'])} |")
    if "webhook_experiments" in r:
        rounds = next(iter(r["webhook_experiments"].values())).get("rounds", 1)
        trivial = b.get("server_floor", {}).get("ack_p99_ms")
        lines += ["", "The webhook with one thing changed: `serve` with the same patches as "
                  "the in-process variants above (`BENCH_EXPERIMENT`), same run, none a "
                  f"product mode; median of {rounds} round(s) in alternating order:", "",
                  f"| serve variant | orders/s, {keys} in flight | serve CPU ms/order | "
                  f"ack p99, burst of {b['alerts']} | ÷ trivial server |",
                  "|---|---:|---:|---:|---:|"]
        for name, x in r["webhook_experiments"].items():
            lines.append(f"| {name} | {_fmt(x['in_flight']['per_second'])} | "
                         f"{_fmt(x['in_flight']['serve_cpu_ms_per_order'])} | "
                         f"{_fmt(x['burst']['ack_p99_ms'])} | "
                         f"{_fmt(_ratio(x['burst']['ack_p99_ms'], trivial))} |")
    if "observability" in r:
        lines += ["", observability_section(r["observability"])]
    mem = r["startup"].get("memory_steps")
    if mem:
        lines += ["", "Serve's memory by import (one fresh interpreter, cumulative): " + ", ".join(
            f"{m['step']} {_fmt(m['rss_mb'])}" for m in mem) + " MB."]
    return "\n".join(lines) + "\n"


def observability_section(obs: dict[str, Any]) -> str:
    """The webhook with /metrics (and the dashboard) on, against both off (same run)."""
    on = obs["on"]
    observer = on.get("observer", {})
    lines = [
        "The webhook with `/metrics` on (token-protected, scraped every second), then with "
        f"the dashboard as well ({observer.get('dashboard', '-')}), against both off, and a "
        "second server with both off (control: the run's noise floor): same "
        f"build, same fakes, one `serve` per variant side by side, measured in turns over "
        f"{obs.get('rounds', 1)} rounds in rotating order, samples pooled "
        "(bench/observability.py). For orders/s a ratio below 1 is slower; for the others "
        "above 1 is slower.",
        "",
        "| figure | off | control (= off) | metrics | metrics + dashboard | control ÷ off "
        "(noise) | metrics ÷ off | both ÷ off |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in obs["ratios"]:
        lines.append(f"| {row['figure']} | {_fmt(row['off'])} | {_fmt(row['control'])} | "
                     f"{_fmt(row['metrics'])} | {_fmt(row['on'])} | "
                     f"{_fmt(row['control_ratio'])} | {_fmt(row['metrics_ratio'])} | "
                     f"{_fmt(row['on_ratio'])} |")
    if obs.get("round_ratios"):
        lines += ["", "The same, as the median over rounds of each round's own ratio (a "
                  "variant's block ÷ off's block in that round, so load that drifts between "
                  "rounds cancels out):", "",
                  "| figure | control ÷ off (noise) | metrics ÷ off | both ÷ off |",
                  "|---|---:|---:|---:|"]
        for row in obs["round_ratios"]:
            lines.append(f"| {row['figure']} | {_fmt(row['control_ratio'])} | "
                         f"{_fmt(row['metrics_ratio'])} | {_fmt(row['on_ratio'])} |")
    if observer:
        lines += ["", f"With both on: {_fmt(observer.get('scrapes'))} scrapes in all, p50 "
                  f"{_fmt(observer.get('scrape_p50_ms'))} ms, "
                  f"{_fmt(observer.get('scrape_bytes'))} bytes; "
                  f"{_fmt(observer.get('dashboard_events'))} dashboard events streamed; "
                  f"{_fmt(observer.get('alerts_counted'))} alerts counted by "
                  "`alert_router_alerts_received_total` at the end."]
    hot = obs.get("hot_path")
    if hot:
        lines += ["", f"The metrics' own work per order (every call one alert with one leg "
                  f"makes, in-process, {hot['orders']:,} orders): "
                  f"{_fmt(hot['us_per_order'])} µs."]
    return "\n".join(lines)


def observability_markdown(r: dict[str, Any]) -> str:
    """``run.py --observability-only``: the machine line and the comparison."""
    m = r["machine"]
    return (f"Run {r['started_at']} ({r['params']['mode']}): {m['cpu']}, {m['cores']} cores, "
            f"Python {m['python']}, load average at start "
            f"{' / '.join(str(x) for x in m['load_average_at_start'])}.\n\n"
            + observability_section(r["observability"]) + "\n")


def _server_floor_note(hook: dict[str, Any]) -> str:
    floor = hook["burst"].get("server_floor")
    if floor is None:
        return ""
    return (f"uvicorn + httptools answering the same burst with a trivial app: p99 "
            f"{_fmt(floor['ack_p99_ms'])} ms")
