/** `npx tsx proxy/main.ts`: parses the environment and starts the proxy; stops cleanly on SIGINT/SIGTERM. */
import { parseProxyConfig, ProxyConfigError } from "./config";
import { startProxy } from "./server";

async function main(): Promise<void> {
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
