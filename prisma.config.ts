// Prisma CLI configuration. Only `prisma generate` is used here (migrations are SQL files applied by
// server/db/migrate.ts); DATABASE_URL is read for sites that run `prisma migrate deploy` themselves.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/carnet" },
});
