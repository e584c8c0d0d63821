import { defineConfig } from "vitest/config";
import path from "node:path";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
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
