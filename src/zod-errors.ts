/** Zod issues as one line each, named by their full path from `root`. */
import type { z } from 'zod';

export function describeZodError(err: z.ZodError, root: string): string {
  return err.issues
    .slice(0, 5)
    .map((i) => {
      const path = [root, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))].join('').replace(/\.\[/g, '[');
      return `${path}: ${i.message}`;
    })
    .join('; ');
}
