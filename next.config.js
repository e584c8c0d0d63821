/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native / dynamic-require packages stay outside the bundle.
  serverExternalPackages: [
    "dockerode", "docker-modem", "ssh2", "cpu-features",
    "@electric-sql/pglite", "pglite-prisma-adapter", "pg", "pino", "archiver", "yauzl", "busboy",
  ],
  poweredByHeader: false,
  // Several builds side by side (e.g. engineers working in one tree) can use separate output folders.
  distDir: process.env.CARNET_NEXT_DIST_DIR || ".next",
  // The proxy in front of Next keeps the public Host header; uploads are streamed by our route handlers.
  // A build with a type error fails (`./carnet test` also runs tsc over the whole repo, tests included).
  typescript: { ignoreBuildErrors: false },
};
export default nextConfig;
