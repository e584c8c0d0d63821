/** `npx tsx proxy/main.ts`: parses the environment and starts the proxy; stops cleanly on SIGINT/SIGTERM. */
import { parseProxyConfig, ProxyConfigError } from "./config";
import { startProxy } from "./server";

async function main(): Promise<void> {
  // Nothing the proxy writes (routes.json holds every Jupyter token) may be readable by students' servers: the
  // site's umask (server/data-dir.ts SITE_UMASK), also inherited from ./carnet start.
  process.umask(0o066);
  let config;
  try {
    config = parseProxyConfig(process.env);
  } catch (err) {
    if (err instanceof ProxyConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const proxy = await startProxy(config);
  const stop = () => {
    proxy.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`carnet-proxy: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
