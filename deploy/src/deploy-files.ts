import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

/**
 * Readers for the deployment files (docker-compose.yml, Dockerfiles), so a test can check their
 * wiring on a machine without a Docker engine. Test support only; no app code imports this.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export function readRepoFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8')
}

export type ComposeService = {
  image?: string
  build?: { context?: string; dockerfile?: string }
  entrypoint?: string[] | string
  environment?: Record<string, string | number | boolean | null> | string[]
  ports?: (string | number)[]
  healthcheck?: { test?: string[] | string; disable?: boolean }
  depends_on?: Record<string, { condition?: string }> | string[]
}
export type ComposeFile = { services: Record<string, ComposeService> }

/** Parses with YAML merge keys (`<<: *anchor`), as Compose does. */
export function parseCompose(text: string): ComposeFile {
  return parse(text, { merge: true }) as ComposeFile
}

/**
 * Compose interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`. Variables come
 * from `vars` (the operator's shell or .env); an unset one takes its default, or the empty string.
 */
export function interpolate(value: string, vars: Record<string, string> = {}): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name?: string, op?: string, rest?: string) => {
    if (match === '$$') return '$'
    const set = name === undefined ? undefined : vars[name]
    if (op === ':-') return set === undefined || set === '' ? (rest ?? '') : set
    if (op === '-') return set ?? rest ?? ''
    // `:?` and `?`: compose refuses to start without the variable, saying why.
    if ((op === ':?' && (set === undefined || set === '')) || (op === '?' && set === undefined)) {
      throw new Error(`${name} is required: ${rest ?? ''}`)
    }
    return set ?? ''
  })
}

/** The environment a service's container gets, interpolated. */
export function serviceEnv(service: ComposeService, vars: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  const raw = service.environment ?? {}
  const entries = Array.isArray(raw)
    ? raw.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const)
    : Object.entries(raw).map(([key, value]) => [key, value === null ? '' : String(value)] as const)
  for (const [key, value] of entries) env[key] = interpolate(value, vars)
  return env
}

/** `"8080:3000"`, `"127.0.0.1:8080:3000/tcp"` or `3000` -> the container-side port. */
export function containerPort(mapping: string | number, vars: Record<string, string> = {}): number {
  const parts = interpolate(String(mapping), vars).split('/')[0]?.split(':') ?? []
  return Number(parts[parts.length - 1])
}

/** `"127.0.0.1:8080:3000"` -> `127.0.0.1`; `"8080:3000"` or `3000` (every interface of the host) -> undefined. */
export function publishedHostIp(mapping: string | number, vars: Record<string, string> = {}): string | undefined {
  const parts = interpolate(String(mapping), vars).split('/')[0]?.split(':') ?? []
  return parts.length === 3 ? parts[0] : undefined
}

export function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {}
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']))
  return Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition ?? 'service_started']))
}

export type DockerInstruction = { keyword: string; args: string; stage: number }

/** Line parser: joins `\` continuations, drops comments and blank lines, numbers the FROM stages. */
export function parseDockerfile(text: string): DockerInstruction[] {
  const logical: string[] = []
  let pending = ''
  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (trimmed.startsWith('#') || (trimmed === '' && pending === '')) continue
    if (trimmed.endsWith('\\')) {
      pending += `${trimmed.slice(0, -1)} `
      continue
    }
    logical.push(pending + trimmed)
    pending = ''
  }
  if (pending !== '') logical.push(pending)
  let stage = -1
  return logical.map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/)
    const upper = keyword.toUpperCase()
    if (upper === 'FROM') stage += 1
    return { keyword: upper, args: rest.join(' '), stage }
  })
}

/**
 * The image each stage starts from (`FROM [--platform=...] image [AS name]`), with the defaults of
 * the global ARGs (those before the first FROM) substituted, as `docker build` does without
 * `--build-arg`.
 */
export function baseImages(instructions: DockerInstruction[]): string[] {
  const globals: Record<string, string> = Object.assign({}, ...instructions.filter((i) => i.keyword === 'ARG' && i.stage === -1).map(envOf))
  return instructions
    .filter((i) => i.keyword === 'FROM')
    .map((i) => i.args.split(/\s+/).find((word) => !word.startsWith('--')) ?? '')
    .map((image) => image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_match, braced?: string, bare?: string) => globals[braced ?? bare ?? ''] ?? ''))
}

/** Instructions of the last stage: what the shipped image is made of. */
export function finalStage(instructions: DockerInstruction[]): DockerInstruction[] {
  const last = Math.max(...instructions.map((i) => i.stage))
  return instructions.filter((i) => i.stage === last)
}

/** `ENV A=1 B="two"` -> { A: '1', B: 'two' } (the legacy `ENV A 1` form too). */
export function envOf(instruction: DockerInstruction): Record<string, string> {
  if (!instruction.args.includes('=')) {
    const [key = '', ...value] = instruction.args.split(/\s+/)
    return { [key]: value.join(' ') }
  }
  const pairs = instruction.args.match(/[A-Za-z_][A-Za-z0-9_]*=(?:"[^"]*"|'[^']*'|\S*)/g) ?? []
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=')
      return [pair.slice(0, at), pair.slice(at + 1).replace(/^(["'])(.*)\1$/, '$2')]
    }),
  )
}
