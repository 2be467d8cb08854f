import { redactUrl } from './logger.ts'

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD/

/** A variable's value fit for a start-up problem: secrets by name are withheld, a URL's password masked. */
export function shownValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return '[redacted]'
  return JSON.stringify(URL.canParse(value) && new URL(value).password !== '' ? redactUrl(value) : value)
}
