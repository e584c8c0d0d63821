/**
 * Outbound Internet for servers whose activity allows it, without the host: each such local server has its own
 * network namespace joined to the host by a veth pair (`carnet<N>` on the host, `eth0` inside, one /30 each)
 * and NAT; the docker backend's bridge uses an interface named `carnet-inet`. Host firewall rules, one set for
 * every `carnet+` interface:
 *   INPUT   from carnet+: refused (no address of the host itself: 127.0.0.1 services, the portal, the route API,
 *           anything bound to 0.0.0.0)
 *   FORWARD into carnet+: replies only; from carnet+: DNS to the host's nameservers, then the blocked networks
 *           (LAN, cloud metadata) refused, then the Internet
 *   NAT     MASQUERADE of the egress subnets
 * Why not the host's network namespace with an owner-match rule: the kernels' ZeroMQ channels run on 127.0.0.1
 * and would be refused with the rest, and a kernel could still listen on the host's ports (squat the portal's
 * internal port during a restart). See docs/spawner.md, "Network".
 * Needs root, iptables (nf_tables or legacy) and iproute2. Nothing here is used unless spec.allowNetwork.
 * `cleanupEgress()` takes it all away again (chains, jumps, IPv4 forwarding as it was) once no server uses it:
 * `./carnet start` calls it when the site stops, the tests' teardowns too.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import type { SpawnerLogger } from "./types";

/** Interfaces the host rules apply to: `carnet<N>` (local veths) and `carnet-inet` (docker bridge). */
export const IFACE_PREFIX = "carnet";

export const DEFAULT_LOCAL_SUBNET = "10.231.0.0/17";
export const DEFAULT_DOCKER_SUBNET = "10.231.128.0/17";
/** Private, shared (CGNAT), link-local (cloud metadata), "this network", multicast and reserved ranges. */
export const DEFAULT_BLOCKED = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"];

const IPTABLES = "/usr/sbin/iptables";
const IP6TABLES = "/usr/sbin/ip6tables";
const IP = "/usr/sbin/ip";
const NSENTER = "/usr/bin/nsenter";

function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } as unknown as NodeJS.ProcessEnv, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: `${stdout}${stderr}`.trim() }),
    );
  });
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.out}`);
  return r.out;
}

/** "a.b.c.d/n" -> [base as a number, prefix length]. Throws on anything else. */
export function parseCidr(cidr: string): [number, number] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const parts = m ? m.slice(1, 5).map(Number) : [];
  const bits = m ? Number(m[5]) : -1;
  if (!m || parts.some((p) => p > 255) || bits < 1 || bits > 30) throw new Error(`not an IPv4 CIDR block: ${cidr}`);
  const base = parts.reduce((a, p) => a * 256 + p, 0);
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return [(base & mask) >>> 0, bits];
}

function ipv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

/**
 * The host's IPv4 nameservers that a namespace can use: /etc/resolv.conf, or systemd-resolved's upstream list
 * when the host points at its own stub (127.0.0.53 is the host's loopback, never reachable from a namespace).
 */
export function nameservers(): string[] {
  const parse = (file: string): string[] => {
    try {
      return readFileSync(file, "utf8")
        .split("\n")
        .map((l) => /^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(l)?.[1])
        .filter((x): x is string => !!x);
    } catch {
      return [];
    }
  };
  const usable = (xs: string[]) => xs.filter((x) => !x.startsWith("127.") && x !== "0.0.0.0");
  const main = usable(parse("/etc/resolv.conf"));
  return main.length ? main : usable(parse("/run/systemd/resolve/resolv.conf"));
}

/** The resolv.conf a namespace gets (bind-mounted over /etc/resolv.conf inside it). */
export function resolvConf(): string {
  const ns = nameservers();
  return `# Carnet: the host's nameservers, for a server with Internet access\n${ns.map((n) => `nameserver ${n}\n`).join("")}options timeout:2 attempts:2\n`;
}

interface Chain {
  table: "filter" | "nat";
  name: string;
  rules: string[][];
}

/** The rules for a configuration; the chains' names carry a hash of their content, so a change makes new ones. */
function chainsFor(subnets: string[], blocked: string[], dns: string[]): { v4: Chain[]; jumps: { chain: string; hook: string; match: string[]; table: "filter" | "nat" }[] } {
  const i = ["-i", `${IFACE_PREFIX}+`];
  const o = ["-o", `${IFACE_PREFIX}+`];
  const input = [
    [...i, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
    [...i, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
  ];
  const fwd = [
    [...o, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
    [...o, "-j", "DROP"],
    ...dns.flatMap((n) => ["udp", "tcp"].map((p) => [...i, "-d", `${n}/32`, "-p", p, "--dport", "53", "-j", "ACCEPT"])),
    ...blocked.flatMap((b) => [
      [...i, "-d", b, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
      [...i, "-d", b, "-j", "REJECT", "--reject-with", "icmp-net-prohibited"],
    ]),
    [...i, "-j", "ACCEPT"],
  ];
  const nat = subnets.map((s) => ["-s", s, "!", ...o, "-j", "MASQUERADE"]);
  const h = createHash("sha256").update(JSON.stringify([input, fwd, nat])).digest("hex").slice(0, 8);
  return {
    v4: [
      { table: "filter", name: `CARNET-IN-${h}`, rules: input },
      { table: "filter", name: `CARNET-FWD-${h}`, rules: fwd },
      { table: "nat", name: `CARNET-NAT-${h}`, rules: nat },
    ],
    jumps: [
      { table: "filter", hook: "INPUT", match: i, chain: `CARNET-IN-${h}` },
      { table: "filter", hook: "FORWARD", match: i, chain: `CARNET-FWD-${h}` },
      { table: "filter", hook: "FORWARD", match: o, chain: `CARNET-FWD-${h}` },
      { table: "nat", hook: "POSTROUTING", match: [], chain: `CARNET-NAT-${h}` },
    ],
  };
}

const COMPLETE = ["-m", "comment", "--comment", "carnet-complete", "-j", "RETURN"];

/** Creates and fills a chain unless a complete one of that name exists (its last rule is the marker). */
async function ensureChain(bin: string, c: Chain): Promise<void> {
  const t = ["-w", "-t", c.table];
  if ((await run(bin, [...t, "-C", c.name, ...COMPLETE])).ok) return;
  await run(bin, [...t, "-N", c.name]); // "already exists" is fine: a half-filled one is flushed below
  await must(bin, [...t, "-F", c.name]);
  for (const r of c.rules) await must(bin, [...t, "-A", c.name, ...r]);
  await must(bin, [...t, "-A", c.name, ...COMPLETE]);
}

/** Puts the jump at the top of its hook, then removes jumps to (and the chains of) older versions. */
async function ensureJump(bin: string, j: { table: string; hook: string; match: string[]; chain: string }): Promise<void> {
  const t = ["-w", "-t", j.table];
  if (!(await run(bin, [...t, "-C", j.hook, ...j.match, "-j", j.chain])).ok) await must(bin, [...t, "-I", j.hook, "1", ...j.match, "-j", j.chain]);
  const kind = j.chain.replace(/-[0-9a-f]{8}$/, "");
  for (const line of (await must(bin, [...t, "-S", j.hook])).split("\n")) {
    const m = new RegExp(`-j (${kind}-[0-9a-f]{8})$`).exec(line);
    if (!m || m[1] === j.chain) continue;
    await run(bin, [...t, ...line.replace(/^-A /, "-D ").split(" ")]);
    await run(bin, [...t, "-F", m[1]!]);
    await run(bin, [...t, "-X", m[1]!]);
  }
}

let ensured: { key: string; done: Promise<void>; plan: ReturnType<typeof chainsFor> } | null = null;

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
/**
 * What IPv4 forwarding was before Carnet turned it on, so that cleanupEgress() can put it back. In /run (gone at
 * reboot, as the setting itself) and machine-wide: several portals or test runs on one machine share one value,
 * written by the first that changed it.
 */
export const FORWARD_SAVED = "/run/carnet/ip_forward.before";

/** Whether the jumps of a plan are still in place (another process's cleanup may have removed them). */
async function inPlace(plan: ReturnType<typeof chainsFor>): Promise<boolean> {
  for (const j of plan.jumps) if (!(await run(IPTABLES, ["-w", "-t", j.table, "-C", j.hook, ...j.match, "-j", j.chain])).ok) return false;
  return readFileSync(IP_FORWARD, "utf8").trim() === "1";
}

/**
 * Installs the host rules above for these egress subnets (idempotent; serialized within the process), and turns
 * on IPv4 forwarding (what Docker does too: it is needed for NAT; the FORWARD rules only let our interfaces
 * through), recording what it was in FORWARD_SAVED. Throws if iptables refuses: a server with Internet access must
 * not start unprotected. Already installed by this process, it still checks that the jumps are there (a cleanup by
 * another process may have run since) and installs them again if not.
 */
export async function ensureEgressRules(opts: { subnets: string[]; blocked?: string[]; logger?: SpawnerLogger }): Promise<void> {
  const blocked = opts.blocked ?? DEFAULT_BLOCKED;
  for (const s of [...opts.subnets, ...blocked]) parseCidr(s);
  const dns = nameservers();
  const key = JSON.stringify([opts.subnets, blocked, dns]);
  if (ensured?.key === key) {
    const mine = ensured;
    await mine.done;
    if (await inPlace(mine.plan)) return;
    if (ensured === mine) ensured = null;
    return ensureEgressRules(opts);
  }
  const plan = chainsFor(opts.subnets, blocked, dns);
  const done = (async () => {
    await cleaning;
    for (const c of plan.v4) await ensureChain(IPTABLES, c);
    for (const j of plan.jumps) await ensureJump(IPTABLES, j);
    // Namespaces have IPv6 turned off; refuse it anyway should an interface get an address.
    const v6 = { table: "filter" as const, name: "CARNET-IN6", rules: [["-i", `${IFACE_PREFIX}+`, "-j", "REJECT"]] };
    await ensureChain(IP6TABLES, v6);
    for (const hook of ["INPUT", "FORWARD"]) await ensureJump(IP6TABLES, { table: "filter", hook, match: ["-i", `${IFACE_PREFIX}+`], chain: "CARNET-IN6" });
    const before = readFileSync(IP_FORWARD, "utf8").trim();
    if (before !== "1") {
      if (!existsSync(FORWARD_SAVED)) {
        mkdirSync("/run/carnet", { recursive: true, mode: 0o700 });
        writeFileSync(FORWARD_SAVED, before, { mode: 0o600 });
      }
      writeFileSync(IP_FORWARD, "1");
      opts.logger?.warn({}, "IPv4 forwarding turned on for servers with Internet access (FORWARD rules only pass carnet+ interfaces)");
    }
  })();
  ensured = { key, done, plan };
  done.catch(() => {
    if (ensured?.done === done) ensured = null;
  });
  return done;
}

/**
 * Carnet's network interfaces on this host that servers use: veths `carnet<N>` of local servers with Internet
 * access, and the docker bridge `carnet-inet` when a container is attached to it. Empty when no server needs the
 * rules.
 */
export function egressInterfacesInUse(): string[] {
  let names: string[];
  try {
    names = readdirSync("/sys/class/net").filter((n) => n.startsWith(IFACE_PREFIX));
  } catch {
    return [];
  }
  return names.filter((n) => {
    const ports = `/sys/class/net/${n}/brif`;
    if (!existsSync(ports)) return true; // a veth: a server's namespace is on its other end
    try {
      return readdirSync(ports).length > 0;
    } catch {
      return true;
    }
  });
}

/** Whether Carnet left anything of its egress on this host: chains (v4, v6), jumps, forwarding to restore. */
export async function egressLeftovers(): Promise<string[]> {
  const out: string[] = [];
  for (const [bin, tables] of [[IPTABLES, ["filter", "nat"]], [IP6TABLES, ["filter"]]] as const)
    for (const t of tables) {
      const r = await run(bin, ["-w", "-t", t, "-S"]);
      if (r.ok) out.push(...r.out.split("\n").filter((l) => /CARNET-/.test(l)).map((l) => `${bin === IPTABLES ? "ip" : "ip6"}tables -t ${t} ${l}`));
    }
  if (existsSync(FORWARD_SAVED)) out.push(`ip_forward to restore to ${readFileSync(FORWARD_SAVED, "utf8").trim()}`);
  return out;
}

let cleaning: Promise<unknown> = Promise.resolve();

/**
 * Removes what ensureEgressRules() installed: every jump to a `CARNET-*` chain in INPUT, FORWARD and POSTROUTING,
 * those chains (IPv4 filter and nat, IPv6 filter), and puts IPv4 forwarding back as it was (FORWARD_SAVED), unless a
 * server still uses them (egressInterfacesInUse(): servers outlive a portal stop by design, and removing the rules
 * under one would open the host to it); then it keeps everything and says why. Idempotent; needs root (does
 * nothing otherwise). The docker bridge network itself is removed by the docker backend
 * (removeEgressNetworkIfUnused in spawner/docker.ts), before this, so that its interface is gone.
 */
export function cleanupEgress(opts: { logger?: SpawnerLogger } = {}): Promise<{ removed: string[]; keptFor: string[] }> {
  const job = cleaning.then(async () => {
    if (process.getuid?.() !== 0) return { removed: [], keptFor: [] };
    const busy = egressInterfacesInUse();
    if (busy.length) {
      opts.logger?.info({ interfaces: busy }, "egress rules kept: servers with Internet access still run");
      return { removed: [], keptFor: busy };
    }
    await ensured?.done.catch(() => undefined);
    ensured = null;
    const removed: string[] = [];
    for (const [bin, tables] of [[IPTABLES, { filter: ["INPUT", "FORWARD"], nat: ["POSTROUTING"] }], [IP6TABLES, { filter: ["INPUT", "FORWARD"] }]] as const) {
      for (const [table, hooks] of Object.entries(tables)) {
        const t = ["-w", "-t", table];
        for (const hook of hooks)
          for (const line of (await run(bin, [...t, "-S", hook])).out.split("\n"))
            if (/ -j CARNET-[A-Za-z0-9-]+$/.test(line) && (await run(bin, [...t, ...line.replace(/^-A /, "-D ").split(" ")])).ok) removed.push(`${table} ${line}`);
        for (const line of (await run(bin, [...t, "-S"])).out.split("\n")) {
          const chain = /^-N (CARNET-[A-Za-z0-9-]+)$/.exec(line)?.[1];
          if (!chain) continue;
          await run(bin, [...t, "-F", chain]);
          if ((await run(bin, [...t, "-X", chain])).ok) removed.push(`${table} chain ${chain}`);
        }
      }
    }
    if (existsSync(FORWARD_SAVED)) {
      const before = readFileSync(FORWARD_SAVED, "utf8").trim();
      if (before === "0" || before === "1") writeFileSync(IP_FORWARD, before);
      rmSync(FORWARD_SAVED, { force: true });
      try {
        rmdirSync("/run/carnet"); // only when empty
      } catch {
        /* not empty, or already gone */
      }
      removed.push(`ip_forward back to ${before}`);
    }
    if (removed.length) opts.logger?.info({ removed }, "egress rules removed (no server with Internet access left)");
    return { removed, keptFor: [] };
  });
  cleaning = job.catch(() => undefined);
  return job;
}

/**
 * Gives the network namespace of `pid` an `eth0` joined to a new host interface `carnet<N>` (the first free
 * N, from a seed so servers rarely probe), with a /30 of `subnet`, a default route through the host, and IPv6
 * off. The pair disappears by itself with the namespace (when the server's last process exits).
 */
export async function attachVeth(pid: number, subnet: string, seed: string): Promise<{ iface: string; address: string }> {
  const [base, bits] = parseCidr(subnet);
  const slots = 2 ** (32 - bits) / 4;
  const start = createHash("sha256").update(seed).digest().readUInt32BE(0) % slots;
  const ns = ["--net=/proc/" + pid + "/ns/net", "--"];
  for (let k = 0; k < Math.min(slots, 512); k++) {
    const n = (start + k) % slots;
    const iface = `${IFACE_PREFIX}${n}`;
    const r = await run(IP, ["link", "add", iface, "type", "veth", "peer", "name", "eth0", "netns", String(pid)]);
    if (!r.ok) {
      if (/exists/i.test(r.out)) continue; // the name (so the /30) is taken: the kernel keeps names unique
      throw new Error(`ip link add ${iface}: ${r.out}`);
    }
    const host = ipv4(base + n * 4 + 1);
    const inside = ipv4(base + n * 4 + 2);
    writeFileSync(`/proc/sys/net/ipv6/conf/${iface}/disable_ipv6`, "1");
    await must(IP, ["addr", "add", `${host}/30`, "dev", iface]);
    await must(IP, ["link", "set", iface, "up"]);
    await must(NSENTER, [...ns, "/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6"]);
    await must(NSENTER, [...ns, IP, "addr", "add", `${inside}/30`, "dev", "eth0"]);
    await must(NSENTER, [...ns, IP, "link", "set", "eth0", "up"]);
    await must(NSENTER, [...ns, IP, "route", "add", "default", "via", host]);
    return { iface, address: inside };
  }
  throw new Error(`no free /30 in ${subnet} for a server with Internet access`);
}
