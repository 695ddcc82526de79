/** Rows a retention delete takes per statement: small enough that no statement holds locks for long. */
export const DELETE_BATCH = 1000;

/**
 * Runs `step` (a delete of at most DELETE_BATCH rows) until a batch comes back
 * short; returns how many rows went in all.
 */
export async function deleteInBatches(step: () => Promise<{ numDeletedRows: bigint }>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = Number((await step()).numDeletedRows);
    total += n;
    if (n < DELETE_BATCH) return total;
  }
}
