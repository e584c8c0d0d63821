/** Small helpers shared by the test identity providers: free ports, readiness polling, stopping by PID. */
import net from "node:net";
import type { ChildProcess } from "node:child_process";

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it just before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls `url` until it answers (any status below 500), the child exits, or `timeoutMs` passes. No fixed sleeps. */
export async function waitForHttp(url: string, opts: { timeoutMs?: number; child?: ChildProcess; log?: () => string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let delay = 25;
  for (;;) {
    if (opts.child && opts.child.exitCode !== null) throw new Error(`server exited (${opts.child.exitCode}) before ${url} answered\n${opts.log?.() ?? ""}`);
    try {
      const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(2_000) });
      if (res.status < 500) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${opts.timeoutMs ?? 60_000} ms\n${opts.log?.() ?? ""}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/** Stops a child process by PID: SIGTERM, then SIGKILL after 5 s. Resolves when it has exited. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A minimal cookie jar for driving IdP login forms with fetch. */
export class CookieJar {
  private jar = new Map<string, string>();
  store(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      if (eq > 0) this.jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }
  get(name: string): string | undefined {
    return this.jar.get(name);
  }
  header(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}
