//! The project's own loopback guard for Node programs (`tests/playground/loopback-only.cjs`),
//! which confines the Microsoft 365 Agents Playground in the tests and in the docs' command
//! (`scripts/playground.sh`): attacked the way the playground's telemetry SDK would leave the
//! machine (a connection, a DNS lookup, the cloud metadata address, fetch, a resolver query, a
//! datagram), each must be refused by the guard, while loopback keeps working.

use std::process::Command;

/// The probe: each attempt reports whether the guard refused it, or what happened instead.
const PROBE: &str = r#"
const net = require("net"), http = require("http"), https = require("https");
const dns = require("dns"), dgram = require("dgram");
const results = {};
const settle = (name, promise) => Promise.race([
  promise.then(() => "connected", (e) => [e, e && e.cause].filter(Boolean).map((x) => x.message).join(": ")),
  new Promise((r) => setTimeout(() => r("timed out"), 5000).unref()),
]).then((outcome) => { results[name] = outcome; });
const socket = (make) => new Promise((ok, fail) => {
  const s = make(); s.once("connect", () => { s.destroy(); ok(); }); s.once("error", fail);
});
const request = (get, url) => new Promise((ok, fail) => {
  const r = get(url, (res) => { res.resume(); ok(); }); r.once("error", fail);
});
const lookup = (name) => new Promise((ok, fail) =>
  dns.lookup(name, (e, a) => (e ? fail(e) : ok(a))));
(async () => {
  await settle("net.connect to a public address", socket(() => net.connect(443, "192.0.2.1")));
  await settle("net.connect with options", socket(() => net.connect({ host: "198.51.100.7", port: 80 })));
  await settle("an IPv4-mapped address", socket(() => net.connect(80, "::ffff:10.0.0.1")));
  await settle("the cloud metadata address", request(http.get, "http://169.254.169.254/metadata/instance"));
  await settle("https to the telemetry ingestion host", request(https.get, "https://dc.services.visualstudio.com/v2/track"));
  await settle("fetch", fetch("http://example.com/"));
  await settle("dns.lookup", lookup("example.com"));
  await settle("dns.promises.lookup", dns.promises.lookup("dc.services.visualstudio.com"));
  await settle("dns.resolve4", new Promise((ok, fail) => dns.resolve4("example.com", (e) => (e ? fail(e) : ok()))));
  await settle("a dns.Resolver", new dns.promises.Resolver().resolve4("example.com"));
  await settle("a datagram", new Promise((ok, fail) => {
    const u = dgram.createSocket("udp4");
    u.send(Buffer.from("x"), 53, "8.8.8.8", (e) => { u.close(); e ? fail(e) : ok(); });
  }));
  // Loopback still works: a server without a host binds 127.0.0.1 and answers.
  const server = net.createServer((c) => c.end()).listen(0);
  await new Promise((r) => server.once("listening", r));
  results["listen without a host binds"] = server.address().address;
  await settle("connect to loopback", socket(() => net.connect(server.address().port, "127.0.0.1")));
  await settle("connect to localhost", socket(() => net.connect(server.address().port)));
  server.close();
  const everywhere = net.createServer().listen(0, "0.0.0.0");
  await new Promise((r) => everywhere.once("listening", r));
  results["listen on 0.0.0.0 binds"] = everywhere.address().address;
  everywhere.close();
  results["lookup of localhost"] = await lookup("localhost").catch((e) => String(e.message));
  results["refusals counted"] = globalThis.__loopbackOnlyRefusals.count;
  console.log(JSON.stringify(results));
})();
"#;

#[test]
fn the_loopback_guard_refuses_every_way_off_the_machine_and_keeps_loopback() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: node is not installed, so the loopback guard cannot be tried");
        return;
    }
    let guard = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/playground/loopback-only.cjs"
    );
    let out = Command::new("node")
        .args(["--require", guard, "-e", PROBE])
        .env_remove("NODE_OPTIONS")
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the probe's JSON report");
    for attempt in [
        "net.connect to a public address",
        "net.connect with options",
        "an IPv4-mapped address",
        "the cloud metadata address",
        "https to the telemetry ingestion host",
        "fetch",
        "dns.lookup",
        "dns.promises.lookup",
        "dns.resolve4",
        "a dns.Resolver",
        "a datagram",
    ] {
        let outcome = results[attempt].as_str().unwrap_or_default();
        // fetch wraps the socket's error ("fetch failed"), the guard's being its cause.
        assert!(
            outcome.contains("loopback-only: refused"),
            "{attempt}: {outcome}"
        );
    }
    assert_eq!(results["listen without a host binds"], "127.0.0.1");
    assert_eq!(results["listen on 0.0.0.0 binds"], "127.0.0.1");
    assert_eq!(results["connect to loopback"], "connected");
    assert_eq!(results["connect to localhost"], "connected");
    let localhost = results["lookup of localhost"].as_str().unwrap_or_default();
    assert!(
        localhost == "127.0.0.1" || localhost == "::1",
        "localhost still resolves: {localhost}"
    );
    assert!(
        results["refusals counted"].as_u64().unwrap_or(0) >= 11,
        "{results}"
    );

    // Without the guard the same probe is not refused: the test can tell the difference.
    let bare = Command::new("node")
        .args(["-e", "require('net').connect(443, '192.0.2.1').on('error', e => console.log(e.message)).setTimeout(500, function () { console.log('timed out'); this.destroy(); })"])
        .output()
        .expect("run node");
    assert!(!String::from_utf8_lossy(&bare.stdout).contains("loopback-only"));
}

#[test]
fn the_playground_command_of_the_docs_and_the_tests_runs_under_the_guard() {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/playground.sh"
    ))
    .expect("scripts/playground.sh");
    assert!(
        script.contains("--require \"$root/tests/playground/loopback-only.cjs\"")
            && script.contains("APPLICATION_INSIGHTS_NO_STATSBEAT=true"),
        "{script}"
    );
}
