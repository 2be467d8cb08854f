import { DatabaseOutcomeUnknownError, DependencyUnavailableError } from '../../common/errors.ts'
import type { DrizzleDatabase } from './database.ts'
import { DEFAULT_DEADLINE_MS, withDatabaseErrors } from './database-errors.ts'

/** What a unit of work gets: drizzle bound to one transaction. */
export type Transaction = Parameters<Parameters<DrizzleDatabase['transaction']>[0]>[0]

export type RunInTransaction = <T>(work: (tx: Transaction) => Promise<T>, options?: { deadlineMs?: number }) => Promise<T>

/** The deadline ran out before COMMIT was sent; the work is rolled back when it returns. */
class TransactionAbandoned extends Error {}

/**
 * The transaction boundary: `work` runs in BEGIN ... COMMIT and rolls back on any throw.
 *
 * Like every database call it has a deadline (see withDatabaseErrors), and what a timeout
 * means depends on when it fires. Before COMMIT was sent, the work is abandoned: it rolls
 * back as soon as it returns, so "unavailable" is the truth and a retry is safe. After
 * COMMIT was sent, nobody can know whether it took effect, so the caller is told exactly
 * that (DATABASE_OUTCOME_UNKNOWN) instead of "unavailable".
 */
export function createRunInTransaction(db: DrizzleDatabase): RunInTransaction {
  return (work, options = {}) => runWithinDeadline((body) => db.transaction(body), work, options.deadlineMs)
}

/**
 * The deadline logic of createRunInTransaction, for any client's transaction: `begin` runs its
 * callback between BEGIN and COMMIT (drizzle's `db.transaction`, postgres.js's `sql.begin`).
 */
export async function runWithinDeadline<Tx, T>(
  begin: (body: (tx: Tx) => Promise<T>) => PromiseLike<T>,
  work: (tx: Tx) => Promise<T>,
  deadlineMs: number = DEFAULT_DEADLINE_MS,
): Promise<T> {
  type Phase = 'working' | 'committing' | 'abandoned'
  const state = { phase: 'working' as Phase }
  const abandoned = () => state.phase === 'abandoned'
  const running = Promise.resolve(
    begin(async (tx) => {
      if (abandoned()) throw new TransactionAbandoned('deadline passed before the transaction began')
      const result = await work(tx)
      if (abandoned()) throw new TransactionAbandoned('deadline passed during the transaction')
      // The client sends COMMIT as soon as this callback resolves.
      state.phase = 'committing'
      return result
    }),
  )
  // A late rollback or commit must not surface as an unhandled rejection.
  running.catch(() => {})
  try {
    return await withDatabaseErrors(() => running, deadlineMs)
  } catch (error) {
    if (!(error instanceof DependencyUnavailableError)) throw error
    if (state.phase === 'committing') {
      throw new DatabaseOutcomeUnknownError('the database did not acknowledge a commit in time; it may have taken effect', {
        cause: error,
      })
    }
    state.phase = 'abandoned'
    throw error
  }
}
