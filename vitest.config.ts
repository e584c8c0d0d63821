import { defineConfig } from "vitest/config";
import path from "node:path";

export default defineConfig({
  // `server-only` marks modules a client component must never import (Next refuses the build); outside Next
  // (tests) it resolves to its empty react-server build.
  resolve: { alias: { "@": path.resolve(import.meta.dirname), "server-only": path.resolve(import.meta.dirname, "node_modules/server-only/empty.js") } },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "e2e/**", ".next/**", ".cache/**", "data/**"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    // Two cores: real Jupyter servers, a Docker engine and databases compete for them.
    maxWorkers: 2,
    server: { deps: { inline: [/next-auth/, /@auth\/core/] } },
  },
});
