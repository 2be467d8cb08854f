import { type Static, Type } from '@sinclair/typebox'
import { JOB_ID_PATTERN } from './job.ts'

/**
 * The jobs queue's one message: "look at this job now". The runner reads the job's state and
 * does the next step, so a duplicate, late or reordered message is harmless. `reason` is for
 * logs only: the state decides.
 */
export const JobMessage = Type.Object(
  {
    type: Type.Literal('job'),
    job_id: Type.String({ pattern: JOB_ID_PATTERN }),
    reason: Type.Union([
      Type.Literal('start'),
      Type.Literal('cancel'),
      Type.Literal('webhook'),
      Type.Literal('poll'),
      Type.Literal('retry'),
      Type.Literal('results'),
    ]),
  },
  { additionalProperties: false },
)
export type JobMessage = Static<typeof JobMessage>
