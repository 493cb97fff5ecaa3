// The one Prisma client of a process, on the pg driver adapter (no native query engine).
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client.ts";
import { env } from "./env.server.ts";

export type { PrismaClient };

const globalForPrisma = globalThis as unknown as { prisma?: PrismaClient };

export function createPrismaClient(databaseUrl = env().DATABASE_URL): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl, max: 10 }) });
}

// Vite's dev server re-imports modules on change: keep one client per process.
export const prisma: PrismaClient = (globalForPrisma.prisma ??= createPrismaClient());
