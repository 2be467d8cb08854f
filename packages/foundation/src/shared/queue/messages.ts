import { type Static, Type } from '@sinclair/typebox'
import { IMAGE_ID_PATTERN } from '../image/image.ts'

/**
 * The messages we write to our own queues, one schema each: the sender checks them before
 * sending, the consumer parses with the same schema.
 */

/**
 * Uploads queue, beside S3's events: "validate this upload now". Sent by `upload/confirm` (the
 * object is there, do not wait for the storage event) and by the sweeper (an event was lost).
 * Handled like an ObjectCreated event for `uploads/{image_id}`, except that a missing object
 * leaves the record pending (the sweeper expires it) instead of failing it.
 */
export const ValidateImageMessage = Type.Object(
  {
    type: Type.Literal('validate'),
    image_id: Type.String({ pattern: IMAGE_ID_PATTERN }),
  },
  { additionalProperties: false },
)
export type ValidateImageMessage = Static<typeof ValidateImageMessage>
