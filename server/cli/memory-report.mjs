// Where a Carnet process's memory goes, on demand (bench/weight.ts, docs/operations.md "Weight"). Loaded with
// `node --import` into Next.js and the proxy by `./carnet start` only when CARNET_MEMORY_REPORT=1; plain JavaScript
// so that Node runs it as is. On SIGUSR2 the process writes one line to its standard error:
//   carnet-memory {"role":"portal","pid":…,"rss":…,"heapTotal":…,"heapUsed":…,"external":…,"arrayBuffers":…,…}
// (bytes): process.memoryUsage(), V8's heap statistics and spaces, and in the portal the render pool's counters.
// Nothing else changes: no heap snapshot, no inspector, no data of any user.
import v8 from "node:v8";

// The proxy runs proxy/main.ts or its bundle (proxy-<hash>.mjs); Next.js runs node_modules/next/dist/bin/next.
const entry = process.argv[1] ?? "";
const role = /proxy[/-][^/]*$/.test(entry) ? "proxy" : /\/next$/.test(entry) ? "portal" : "node";

process.on("SIGUSR2", () => {
  try {
    const heap = v8.getHeapStatistics();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
    const pool = globalThis[Symbol.for("carnet.renderPool")];
    const line = {
      role,
      pid: process.pid,
      ...process.memoryUsage(),
      heapLimit: heap.heap_size_limit,
      malloced: heap.malloced_memory,
      peakMalloced: heap.peak_malloced_memory,
      contexts: heap.number_of_native_contexts,
      spaces,
      renderPool: pool && typeof pool.stats === "function" ? pool.stats() : null,
    };
    process.stderr.write(`carnet-memory ${JSON.stringify(line)}\n`);
  } catch (e) {
    process.stderr.write(`carnet-memory {"role":${JSON.stringify(role)},"error":${JSON.stringify(String(e))}}\n`);
  }
});
