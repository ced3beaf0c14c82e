import { Prisma } from '@cim-forge/db';

/** true for a unique-constraint violation (Prisma P2002) */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}
