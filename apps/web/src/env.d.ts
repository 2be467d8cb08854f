/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The api the page talks to; the sign-in form starts with it. */
  readonly VITE_API_URL?: string
  /** Set by `pnpm dev` only: the dev token it printed, filled into the form. */
  readonly VITE_DEV_TOKEN?: string
}
