/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native / dynamic-require packages stay outside the bundle.
  serverExternalPackages: [
    "dockerode", "docker-modem", "ssh2", "cpu-features",
    "@electric-sql/pglite", "pglite-prisma-adapter", "pg", "pino", "archiver", "yauzl", "busboy",
  ],
  poweredByHeader: false,
  // The proxy in front of Next keeps the public Host header; uploads are streamed by our route handlers.
  experimental: {},
};
export default nextConfig;
