// loopback-only.cjs: a Node.js preload that keeps a program on this machine's loopback.
//
//   node --require ./tests/playground/loopback-only.cjs program.js ...
//
// - A server that listens without naming a host (server.listen(port)) binds 127.0.0.1, not
//   every interface; one that names every interface (0.0.0.0, ::) binds loopback instead.
// - An outbound connection (net, tls, http, https, http2 and fetch all end in
//   net.Socket#connect) to anything but a loopback address or a local socket path is refused
//   with ECONNREFUSED, as a closed port would be.
// - DNS: dns.lookup answers only for loopback names and only with loopback addresses; the
//   resolver functions (dns.resolve*, which ask a name server directly) are refused.
// - UDP datagrams go to loopback only.
//
// Written for the Microsoft 365 Agents Playground (npm @microsoft/m365agentsplayground), whose
// bundled Application Insights SDK looks up its ingestion host and probes the cloud metadata
// address 169.254.169.254 even with --disable-telemetry; run it with
// APPLICATION_INSIGHTS_NO_STATSBEAT=true too (scripts/playground.sh does both). Refusals are
// counted and, with LOOPBACK_ONLY_LOG=1, written to stderr.
"use strict";

const net = require("net");
const dns = require("dns");
const dgram = require("dgram");

const LOOPBACK_NAMES = new Set(["localhost", "ip6-localhost", "ip6-loopback"]);

/** Whether `host` (a name or an address, IPv6 possibly in brackets) is this machine's loopback. */
function isLoopback(host) {
  const h = String(host).replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h.endsWith(".localhost")) return true;
  if (net.isIPv4(h)) return h.split(".")[0] === "127";
  if (net.isIPv6(h)) {
    // The URL parser writes IPv6 canonically: ::1, and ::ffff:7f00:1 for ::ffff:127.0.0.1.
    const canonical = new URL(`http://[${h}]/`).hostname;
    return canonical === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:/.test(canonical);
  }
  return false;
}

/** Whether `address` is a loopback IP address (not a name). */
function isLoopbackAddress(address) {
  return net.isIP(String(address)) !== 0 && isLoopback(address);
}

const refusals = { count: 0 };
Object.defineProperty(globalThis, "__loopbackOnlyRefusals", { value: refusals });

function refusal(what) {
  refusals.count += 1;
  if (process.env.LOOPBACK_ONLY_LOG === "1") {
    process.stderr.write(`loopback-only: refused ${what}\n`);
  }
  const error = new Error(`loopback-only: refused ${what}`);
  error.code = "ECONNREFUSED";
  error.errno = -111;
  error.syscall = "connect";
  return error;
}

// ---- Servers: bind loopback unless a loopback host or a socket path is given. ----

const ANY = new Set(["0.0.0.0", "::", "[::]", "::0"]);
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === "object" && !Array.isArray(first)) {
    if (!first.path && first.handle === undefined && first.fd === undefined && first._handle === undefined) {
      const host = first.host;
      if (host === undefined || host === null || host === "" || ANY.has(host)) {
        args[0] = { ...first, host: host === "::" || host === "[::]" || host === "::0" ? "::1" : "127.0.0.1" };
      } else if (!isLoopback(host)) {
        throw refusal(`listening on ${host}`);
      }
    }
  } else if (first === undefined || typeof first === "function" || typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    // listen(), listen(cb), listen(port[, host][, backlog][, cb])
    const at = first === undefined || typeof first === "function" ? 0 : 1;
    if (at === 0) args.unshift(0);
    const host = args[1];
    if (typeof host !== "string") {
      args.splice(1, 0, "127.0.0.1");
    } else if (ANY.has(host)) {
      args[1] = host === "0.0.0.0" ? "127.0.0.1" : "::1";
    } else if (!isLoopback(host)) {
      throw refusal(`listening on ${host}`);
    }
  }
  return listen.apply(this, args);
};

// ---- Outbound connections. ----

/** The host a Socket#connect call aims at; `null` for a local socket path. */
function connectTarget(args) {
  let first = args[0];
  if (Array.isArray(first)) first = first[0]; // net.connect passes its normalized arguments
  if (first !== null && typeof first === "object") {
    if (first.path) return null; // a local socket, as net itself decides (`!!path`)
    return first.host === undefined || first.host === null || first.host === "" ? "localhost" : first.host;
  }
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    return typeof args[1] === "string" ? args[1] : "localhost";
  }
  return null; // connect(path[, cb])
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const host = connectTarget(args);
  if (host !== null && !isLoopback(host)) {
    const error = refusal(`connecting to ${host}`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return connect.apply(this, args);
};

// ---- DNS. ----

/** Calls back with `error` or the loopback-only results of the real lookup of `name`. */
function lookupLoopback(realLookup, name, options, callback) {
  if (!isLoopback(name)) {
    process.nextTick(() => callback(refusal(`looking up ${name}`)));
    return {};
  }
  return realLookup(name, options, (error, address, family) => {
    if (error) return callback(error);
    const all = Array.isArray(address) ? address : [{ address, family }];
    if (!all.every((a) => isLoopbackAddress(a.address))) {
      return callback(refusal(`${name} resolving to ${all.map((a) => a.address).join(", ")}`));
    }
    return callback(null, address, family);
  });
}

const lookup = dns.lookup;
dns.lookup = function (name, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  return lookupLoopback(lookup.bind(dns), name, options, callback);
};

const promiseLookup = dns.promises.lookup;
dns.promises.lookup = function (name, options = {}) {
  return new Promise((resolve, reject) => {
    lookupLoopback(
      (n, o, cb) => promiseLookup.call(dns.promises, n, o).then(
        (r) => (Array.isArray(r) ? cb(null, r) : cb(null, r.address, r.family)),
        cb,
      ),
      name,
      options,
      (error, address, family) => {
        if (error) return reject(error);
        resolve(Array.isArray(address) ? address : { address, family });
      },
    );
  });
};

const RESOLVERS = ["resolve", "resolve4", "resolve6", "resolveAny", "resolveCaa", "resolveCname", "resolveMx", "resolveNaptr", "resolveNs", "resolvePtr", "resolveSoa", "resolveSrv", "resolveTxt", "reverse"];
for (const target of [dns, dns.Resolver.prototype]) {
  for (const name of RESOLVERS) {
    if (typeof target[name] !== "function") continue;
    target[name] = function (host, ...rest) {
      const callback = rest[rest.length - 1];
      const error = refusal(`resolving ${host} with ${name}`);
      if (typeof callback === "function") process.nextTick(() => callback(error));
      else throw error;
      return undefined;
    };
  }
}
for (const target of [dns.promises, dns.promises.Resolver.prototype]) {
  for (const name of RESOLVERS) {
    if (typeof target[name] !== "function") continue;
    target[name] = (host) => Promise.reject(refusal(`resolving ${host} with ${name}`));
  }
}

// ---- UDP. ----

const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (...args) {
  const address = args.slice(1).find((a) => typeof a === "string");
  if (address !== undefined && !isLoopback(address)) {
    const error = refusal(`sending a datagram to ${address}`);
    const callback = args[args.length - 1];
    if (typeof callback === "function") process.nextTick(() => callback(error));
    return undefined;
  }
  return send.apply(this, args);
};
const udpConnect = dgram.Socket.prototype.connect;
dgram.Socket.prototype.connect = function (port, address, callback) {
  if (typeof address === "string" && !isLoopback(address)) {
    throw refusal(`connecting a datagram socket to ${address}`);
  }
  return udpConnect.apply(this, arguments);
};
